"""Synthetic EWS data with a fixed seed: baseline count series and injected outbreaks.

Used by the tests, the demo and ``benchmarks/ews_outbreaks.py``. Everything here is synthetic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from centinela.ews.signals import record_signal


@dataclass(frozen=True)
class Outbreak:
    series: int
    start: int
    length: int
    extra_per_day: float


def simulate_series(n_series: int, n_days: int, seed: int = 7, warmup: int = 60,
                    outbreak_share: float = 0.5, base_range: tuple[float, float] = (0.1, 4.0),
                    magnitude: tuple[float, float] = (1.0, 3.0)
                    ) -> tuple[np.ndarray, np.ndarray, list[Outbreak]]:
    """Return (counts [series × days], baseline rates, outbreaks) with weekly seasonality.

    Each outbreak adds ``extra`` cases/day where extra = m × max(rate, 0.5), m drawn from
    ``magnitude``, rising over the first days (an emerging cluster, not a step).
    """
    rng = np.random.default_rng(seed)
    rates = np.exp(rng.uniform(np.log(base_range[0]), np.log(base_range[1]), n_series))
    weekday = 1 + 0.2 * np.sin(2 * np.pi * np.arange(n_days) / 7)
    lam = rates[:, None] * weekday[None, :]
    outbreaks: list[Outbreak] = []
    for s in range(n_series):
        if rng.random() >= outbreak_share:
            continue
        length = int(rng.integers(7, 15))
        start = int(rng.integers(warmup, n_days - length))
        extra = float(rng.uniform(*magnitude) * max(rates[s], 0.5))
        ramp = np.minimum(1.0, (np.arange(length) + 1) / 3)
        lam[s, start:start + length] += extra * ramp
        outbreaks.append(Outbreak(s, start, length, extra))
    return rng.poisson(lam).astype(float), rates, outbreaks


def simulate_cases(lat: np.ndarray, lon: np.ndarray, weights: np.ndarray, n_days: int,
                   per_day: float, seed: int = 11, cluster: tuple[int, int, int] | None = None,
                   cluster_extra: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (location, day) of baseline cases, plus ``cluster_extra`` cases injected around
    location ``cluster[0]`` (its ``cluster[1]`` nearest) in the last ``cluster[2]`` days."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(per_day * n_days)
    p = weights / weights.sum()
    loc = rng.choice(len(lat), size=n, p=p)
    day = rng.integers(0, n_days, size=n)
    if cluster and cluster_extra:
        centre, k, days = cluster
        d2 = (lat - lat[centre]) ** 2 + (lon - lon[centre]) ** 2
        near = np.argsort(d2)[:k]
        loc = np.concatenate([loc, rng.choice(near, size=cluster_extra)])
        day = np.concatenate([day, rng.integers(n_days - days, n_days, size=cluster_extra)])
    return loc, day


def load_series_as_signals(session: Session, counts: np.ndarray, start: dt.datetime,
                           department: str, ubigeo: str, substance: str | None,
                           inchikey: str | None, kind: str = "overdose", prefix: str = "SIM") -> int:
    """Store a daily count series as signals (for end-to-end tests and the demo)."""
    n = 0
    for t, c in enumerate(counts):
        for j in range(int(c)):
            record_signal(session, kind, f"{prefix}-{department}-{t}-{j}",
                          start + dt.timedelta(days=t, hours=17), ubigeo=ubigeo,
                          substance=substance, inchikey=inchikey,
                          payload={"synthetic": True, "setting": "emergency_department"})
            n += 1
    return n
