"""Read region counts, populations and covariates from CSV files and run the outlier method.

Files are UTF-8 (a BOM is fine), comma- or semicolon-separated, with a header. Region codes are
kept as text (leading zeros matter: ubigeo ``010101``, FIPS ``01001``). Every error names the file
and line and says why.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centinela.geo.outliers import OutlierResult, dispersion_over_periods, outliers


class GeoInputError(ValueError):
    """Bad input: the message names the file, the line and the reason."""


MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", ".", "suppressed", "s/d"})


@dataclass
class RegionTable:
    regions: list[str]
    names: list[str]
    quantity: np.ndarray
    exposure: np.ndarray  # residents × periods
    population: np.ndarray  # mean residents over the periods
    periods: np.ndarray
    covariates: np.ndarray | None = None
    covariate_names: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)  # what was left out, and where
    by_period: tuple[np.ndarray, np.ndarray] | None = None  # quantity, population: regions × periods


def _rows(path: Path, required: tuple[str, ...]):
    """Yield (line number, row dict) of a CSV file, checking the header."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GeoInputError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise GeoInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise GeoInputError(f"{path}:1: empty file; expected a header with {', '.join(required)}")
    delim = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delim)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in required if c not in header]
    if missing:
        raise GeoInputError(f"{path}:1: missing column(s) {', '.join(missing)} "
                            f"(header has {', '.join(header) or 'nothing'})")
    for lineno, raw in enumerate(reader, start=2):
        if not raw or all(not c.strip() for c in raw):
            continue
        if len(raw) != len(header):
            raise GeoInputError(f"{path}:{lineno}: {len(raw)} fields, the header has {len(header)}")
        yield lineno, {h: c.strip() for h, c in zip(header, raw, strict=True)}


def parse_number(text: str) -> float:
    """Read a number written with any common separators: ``1234.5``, ``1,234,567``,
    ``1.234.567,8``, ``12,5`` (decimal comma), ``1 234``. Raises ValueError."""
    t = text.strip().replace(" ", "").replace("\u00a0", "").replace("_", "")
    if "," in t and "." in t:
        dec = "," if t.rfind(",") > t.rfind(".") else "."
        t = t.replace("." if dec == "," else ",", "").replace(",", ".")
    elif t.count(",") > 1:
        t = t.replace(",", "")
    elif t.count(",") == 1:
        head, tail = t.split(",")
        # 1,234 (thousands) vs 12,5 (decimal): three digits after a non-zero head is thousands.
        t = head + tail if len(tail) == 3 and head.lstrip("-+") not in ("", "0") else head + "." + tail
    elif t.count(".") > 1:
        t = t.replace(".", "")
    return float(t)


def _number(path: Path, lineno: int, col: str, value: str, positive: bool = False) -> float:
    try:
        x = parse_number(value)
    except ValueError:
        raise GeoInputError(f"{path}:{lineno}: {col} {value!r} is not a number") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        need = "> 0" if positive else "≥ 0"
        raise GeoInputError(f"{path}:{lineno}: {col} {value!r} must be a finite number {need}")
    return x


def _key(path: Path, lineno: int, row: dict) -> tuple[str, str]:
    region = row["region"]
    if not region:
        raise GeoInputError(f"{path}:{lineno}: empty region")
    return region, row["period"]


def read_tables(counts: Path, population: Path, covariates: Path | None = None) -> RegionTable:
    """Join COUNTS (region, period, quantity[, name]) with POP (region, period, population).

    Several count rows of one region and period add up (e.g. one per product). A region-period
    with a population but no count row consumed nothing. A count without a population is an error.
    A quantity or population marked missing (empty, ``NA``, ``suppressed``…) leaves that
    region-period out of both the quantity and the exposure (unknown is not zero); ``notes``
    says how many and where the first one is.
    """
    counts, population = Path(counts), Path(population)
    pop: dict[tuple[str, str], float] = {}
    pop_line: dict[tuple[str, str], int] = {}
    missing: dict[tuple[str, str], str] = {}  # region-period → where it was marked missing
    for lineno, row in _rows(population, ("region", "period", "population")):
        k = _key(population, lineno, row)
        if k in pop or k in missing:
            raise GeoInputError(f"{population}:{lineno}: region {k[0]} period {k[1]!r} repeated "
                                f"(first on line {pop_line[k]})")
        pop_line[k] = lineno
        if row["population"].strip().lower() in MISSING:
            missing[k] = f"{population}:{lineno}"
            continue
        pop[k] = _number(population, lineno, "population", row["population"], positive=True)
    if not pop:
        raise GeoInputError(f"{population}: no data rows")
    qty: dict[tuple[str, str], float] = {}
    names: dict[str, str] = {}
    seen = False
    for lineno, row in _rows(counts, ("region", "period", "quantity")):
        seen = True
        k = _key(counts, lineno, row)
        if k in missing:
            continue
        if row["quantity"].strip().lower() in MISSING:
            if k in pop:
                missing[k] = f"{counts}:{lineno}"
            continue
        q = _number(counts, lineno, "quantity", row["quantity"])
        if k not in pop:
            raise GeoInputError(f"{counts}:{lineno}: no population for region {k[0]} period "
                                f"{k[1]!r} in {population}")
        qty[k] = qty.get(k, 0.0) + q
        if row.get("name"):
            names.setdefault(k[0], row["name"])
    if not seen:
        raise GeoInputError(f"{counts}: no data rows")
    periods_with_counts = {p for _, p in qty}
    if not periods_with_counts:
        raise GeoInputError(f"{counts}: every quantity is missing")
    agg: dict[str, list[float]] = {}
    for (region, period), p in pop.items():
        if (region, period) in missing:
            continue
        if period not in periods_with_counts:
            continue  # a period nobody reported is not a period of zero use
        a = agg.setdefault(region, [0.0, 0.0, 0.0])
        a[0] += qty.get((region, period), 0.0)
        a[1] += p
        a[2] += 1
    regions = sorted(agg)
    plist = sorted(periods_with_counts)
    ri, pi = {r: i for i, r in enumerate(regions)}, {p: j for j, p in enumerate(plist)}
    Y = np.full((len(regions), len(plist)), np.nan)
    N = np.full((len(regions), len(plist)), np.nan)
    for (region, period), p in pop.items():
        if period in pi and (region, period) not in missing and region in ri:
            Y[ri[region], pi[period]] = qty.get((region, period), 0.0)
            N[ri[region], pi[period]] = p
    table = RegionTable(
        regions=regions, names=[names.get(r, "") for r in regions],
        quantity=np.array([agg[r][0] for r in regions]),
        exposure=np.array([agg[r][1] for r in regions]),
        population=np.array([agg[r][1] / agg[r][2] for r in regions]),
        periods=np.array([agg[r][2] for r in regions], dtype=int), by_period=(Y, N))
    if missing:
        first = min(missing.values(), key=lambda w: (w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])))
        table.notes.append(f"{len(missing)} region-period(s) with a missing quantity or population "
                           f"left out (first: {first})")
    if covariates is not None:
        table.covariates, table.covariate_names = _read_covariates(Path(covariates), regions)
    return table


def _read_covariates(path: Path, regions: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    rows = list(_rows(path, ("region",)))
    if not rows:
        raise GeoInputError(f"{path}: no data rows")
    cols = tuple(c for c in rows[0][1] if c not in ("region", "name", "period"))
    if not cols:
        raise GeoInputError(f"{path}:1: no covariate columns besides region")
    vals: dict[str, list[float]] = {}
    for lineno, row in rows:
        vals[row["region"]] = [_number_any(path, lineno, c, row[c]) for c in cols]
    missing = [r for r in regions if r not in vals]
    if missing:
        raise GeoInputError(f"{path}: no covariates for {len(missing)} region(s), e.g. "
                            f"{', '.join(missing[:5])}")
    return np.array([vals[r] for r in regions]), cols


def _number_any(path: Path, lineno: int, col: str, value: str) -> float:
    try:
        x = parse_number(value)
    except ValueError:
        raise GeoInputError(f"{path}:{lineno}: {col} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise GeoInputError(f"{path}:{lineno}: {col} {value!r} is not finite")
    return x


def run(table: RegionTable, q: float = 0.05, min_ratio: float = 1.5,
        dispersion: float | None = None) -> tuple[OutlierResult, list[dict]]:
    """Run the method on a table; return the result and one JSON-ready dict per region, by rank.

    ``dispersion`` (variance ÷ mean of one region's quantity, 1 for counts of independent
    events) overrides the estimate from the data.
    """
    phi = dispersion
    if phi is None and table.by_period is not None:
        phi = dispersion_over_periods(*table.by_period)
    res = outliers(table.quantity, table.exposure, covariates=table.covariates, q=q,
                   min_ratio=min_ratio, dispersion=phi)
    out = []
    for i in np.argsort(res.rank):
        out.append({
            "region": table.regions[i], "name": table.names[i],
            "rate": _r(res.rate[i]), "expected": _r(res.expected_rate[i]),
            "smoothed_rate": _r(res.smoothed_rate[i]), "score": round(float(res.score[i]), 3),
            "flagged": bool(res.flagged[i]), "rank": int(res.rank[i]),
            "ratio": round(float(res.ratio[i]), 3), "raw_ratio": round(float(res.raw_ratio[i]), 3),
            "p_value": float(f"{res.p_value[i]:.3g}"), "q_value": float(f"{res.q_value[i]:.3g}"),
            "quantity": _r(table.quantity[i]), "expected_quantity": _r(res.expected[i]),
            "population": _r(table.population[i]), "periods": int(table.periods[i]),
        })
    return res, out


def _r(x: float) -> float:
    """Round to 6 significant digits (JSON stays readable, tiny rates stay exact enough)."""
    x = float(x)
    return 0.0 if x == 0 else float(f"{x:.6g}")
