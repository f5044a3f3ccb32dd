"""Aberration detection on daily count series: EARS C1/C2/C3, EWMA and CUSUM.

Every function takes a 1-D array of daily counts and returns per-day statistics and alarms; a
day with too little history never alarms. Baselines exclude the day itself (and a guard band
for C2/C3, EWMA and CUSUM) so that an outbreak does not hide in its own baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("ears_c1", "ears_c2", "ears_c3", "ewma", "cusum")


@dataclass(frozen=True)
class Params:
    """Thresholds of every method (defaults are the CDC EARS and textbook values)."""

    c_threshold: float = 3.0
    c3_threshold: float = 2.0
    ewma_lambda: float = 0.3
    ewma_l: float = 3.0
    cusum_k: float = 0.5
    cusum_h: float = 4.0
    long_window: int = 28
    guard: int = 2
    sd_floor: float = 0.5


def _rolling(x: np.ndarray, window: int, lag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and sd of x[t-lag-window+1 .. t-lag] for each t, and whether the window is full."""
    n = len(x)
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    t = np.arange(n)
    hi = t - lag + 1
    lo = hi - window
    ok = lo >= 0
    lo_c, hi_c = np.clip(lo, 0, n), np.clip(hi, 0, n)
    s1 = c1[hi_c] - c1[lo_c]
    s2 = c2[hi_c] - c2[lo_c]
    mean = s1 / window
    var = np.maximum(s2 / window - mean**2, 0.0) * window / max(window - 1, 1)
    return mean, np.sqrt(var), ok


def _sigma(mean: np.ndarray, sd: np.ndarray, floor: float) -> np.ndarray:
    # Sparse counts: a zero-variance baseline would turn any single case into an alarm.
    return np.maximum.reduce([sd, np.sqrt(np.maximum(mean, 0.0)), np.full_like(sd, floor)])


def ears(x: np.ndarray, p: Params = Params()) -> dict[str, np.ndarray]:
    """Return C1, C2, C3 statistics and alarms (7-day baselines; C2/C3 with a 2-day guard)."""
    x = np.asarray(x, dtype=float)
    m1, s1, ok1 = _rolling(x, 7, 1)
    m2, s2, ok2 = _rolling(x, 7, 3)
    c1 = np.where(ok1, (x - m1) / _sigma(m1, s1, p.sd_floor), 0.0)
    c2 = np.where(ok2, (x - m2) / _sigma(m2, s2, p.sd_floor), 0.0)
    excess = np.maximum(c2 - 1.0, 0.0)
    c3 = excess + np.concatenate([[0.0], excess[:-1]]) + np.concatenate([[0.0, 0.0], excess[:-2]])
    ok3 = np.concatenate([[False, False], ok2[:-2]]) if len(x) > 2 else np.zeros(len(x), bool)
    c3 = np.where(ok3, c3, 0.0)
    return {
        "ears_c1": c1, "ears_c2": c2, "ears_c3": c3,
        "ears_c1_alarm": ok1 & (c1 > p.c_threshold) & (x > 0),
        "ears_c2_alarm": ok2 & (c2 > p.c_threshold) & (x > 0),
        "ears_c3_alarm": ok3 & (c3 > p.c3_threshold) & (x > 0),
    }


def ewma(x: np.ndarray, p: Params = Params()) -> dict[str, np.ndarray]:
    """Return the EWMA statistic in baseline-sd units above the baseline, and alarms."""
    x = np.asarray(x, dtype=float)
    m, s, ok = _rolling(x, p.long_window, p.guard + 1)
    sig = _sigma(m, s, p.sd_floor)
    lam = p.ewma_lambda
    z = np.zeros(len(x))
    prev = None
    for t in range(len(x)):
        if not ok[t]:
            continue
        prev = m[t] if prev is None else prev
        prev = lam * x[t] + (1 - lam) * prev
        z[t] = prev
    limit = m + p.ewma_l * sig * np.sqrt(lam / (2 - lam))
    stat = np.where(ok, (z - m) / (sig * np.sqrt(lam / (2 - lam))), 0.0)
    return {"ewma": stat, "ewma_alarm": ok & (z > limit) & (x > 0)}


def cusum(x: np.ndarray, p: Params = Params()) -> dict[str, np.ndarray]:
    """Return the standardized upper CUSUM and alarms (reset after each alarm)."""
    x = np.asarray(x, dtype=float)
    m, s, ok = _rolling(x, p.long_window, p.guard + 1)
    sig = _sigma(m, s, p.sd_floor)
    out = np.zeros(len(x))
    alarm = np.zeros(len(x), dtype=bool)
    acc = 0.0
    for t in range(len(x)):
        if not ok[t]:
            continue
        acc = max(0.0, acc + (x[t] - m[t]) / sig[t] - p.cusum_k)
        out[t] = acc
        if acc > p.cusum_h:
            alarm[t] = True
            acc = 0.0
    return {"cusum": out, "cusum_alarm": alarm}


def run_all(x: np.ndarray, p: Params = Params()) -> dict[str, np.ndarray]:
    """Return every method's statistic and alarm arrays for one series."""
    out: dict[str, np.ndarray] = {}
    out.update(ears(x, p))
    out.update(ewma(x, p))
    out.update(cusum(x, p))
    return out


def alert_days(res: dict[str, np.ndarray], min_methods: int = 2,
               require_smoothed: bool = True) -> np.ndarray:
    """Days on which the EWS raises an alert: at least ``min_methods`` methods agree and, when
    ``require_smoothed``, one of them is EWMA or CUSUM (the EARS methods alone alarm on noise
    several times a year per series; see benchmarks/README.md)."""
    votes = np.sum([res[m + "_alarm"].astype(int) for m in METHODS], axis=0)
    out = votes >= min_methods
    if require_smoothed:
        out &= res["ewma_alarm"] | res["cusum_alarm"]
    return out


def baseline(x: np.ndarray, t: int, window: int = 28) -> float:
    """Return the mean count of the ``window`` days before day ``t`` (for summaries)."""
    lo = max(0, t - window)
    return float(np.mean(x[lo:t])) if t > lo else 0.0
