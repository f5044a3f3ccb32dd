"""Small array helpers shared by detectors: grouping, months, MME of dispenses."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from centinela.detect.context import DAY, DetectionContext
from centinela.ledger.mme import days_covered_many
from centinela.lib.clock import LIMA_OFFSET_S

PRESCRIBER_PREFIXES = ("CMP-", "COP-", "COB-")


def groups(keys: np.ndarray, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (key, rows with that key) where ``keys[i]`` is the key of ``rows[i]``."""
    rows = np.asarray(rows)
    if len(rows) == 0:
        return
    keys = np.asarray(keys)
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    cuts = np.flatnonzero(ks[1:] != ks[:-1]) + 1
    for chunk in np.split(order, cuts):
        yield int(keys[chunk[0]]), rows[chunk]


def lima_night(t: np.ndarray) -> np.ndarray:
    """True for epoch seconds that fall in the night shift, 22:00–06:00 Lima."""
    hour = ((np.asarray(t) + LIMA_OFFSET_S) % DAY) // 3600
    return (hour >= 22) | (hour < 6)


def month_index(t: np.ndarray) -> np.ndarray:
    """Return the Lima calendar month index (months since 1970-01) of epoch seconds."""
    days = ((np.asarray(t) + LIMA_OFFSET_S) // DAY).astype("datetime64[D]")
    return days.astype("datetime64[M]").astype(np.int64)


def month_bounds(m: int) -> tuple[int, int]:
    """Return (first second, last second) of Lima month index ``m`` as epoch seconds."""
    start = np.datetime64(int(m), "M").astype("datetime64[D]").astype(np.int64)
    end = np.datetime64(int(m) + 1, "M").astype("datetime64[D]").astype(np.int64)
    return int(start * DAY - LIMA_OFFSET_S), int(end * DAY - LIMA_OFFSET_S - 1)


def month_label(m: int) -> str:
    """Return 'YYYY-MM' of a month index."""
    return str(np.datetime64(int(m), "M"))


def pair_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Combine two non-negative code arrays into one int64 key."""
    return a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b.astype(np.int64)


def transdermal(ctx: DetectionContext) -> np.ndarray:
    """True for each product code that is a transdermal patch (one test per product, not per row)."""
    return np.array([r == "transdermal" for r in ctx.registry.prod_route], dtype=bool)


def dispense_daily_mme(ctx: DetectionContext, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (daily MME, days covered) of dispense ``rows`` (CDC formula, ``ledger.mme``)."""
    f, reg = ctx.frame, ctx.registry
    prod = np.maximum(f.product[rows], 0)
    qty = f.qty[rows]
    patch = transdermal(ctx)[prod]
    days = np.maximum(days_covered_many(patch, qty, f.days_supply[rows]), 1.0)
    daily = qty * reg.prod_mme[prod] / days
    daily = np.where(f.product[rows] >= 0, daily, 0.0)
    return daily, days


def prescriber_exempt(ctx: DetectionContext, codes: np.ndarray) -> np.ndarray:
    """Return True for prescribers in specialties exempt from high-dose limits (cancer, palliative)."""
    from centinela.ledger.mme import EXEMPT_SPECIALTIES

    spec = ctx.registry.prof_specialty
    return np.array([c >= 0 and (spec[c] or "") in EXEMPT_SPECIALTIES for c in codes], dtype=bool)


def role_of(ctx: DetectionContext, code: int) -> str | None:
    """Return the role of a professional code: registry, else its college-number prefix."""
    reg = ctx.registry
    if code < 0:
        return None
    if reg.prof_role[code]:
        return reg.prof_role[code]
    name = ctx.frame.profv.name(code) or ""
    if name.startswith("CQFP-"):
        return "pharmacist"
    if name.startswith("CEP-"):
        return "nurse"
    if name.startswith(PRESCRIBER_PREFIXES):
        return "prescriber"
    return None
