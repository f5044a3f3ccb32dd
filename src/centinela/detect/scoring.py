"""Shared score calibration and robust statistics for every detector.

Every detector states two things about a finding: how strong the statistical (or rule) evidence
is, as a tail probability or a fixed rule strength, and how much medicine is involved, in
morphine milligram equivalents (MME). One mapping turns both into a 0–100 score, so an analyst
can sort alerts from different detectors on one scale:

    score = 70 × strength + 30 × impact
    strength = min(1, −log10(p) / 8)          (p = 1e-8 or smaller → full strength)
    impact   = min(1, log10(1 + MME) / 5)     (100 000 MME → full impact)

Rule findings (a serial used twice, a shipment never received) carry a fixed strength chosen by
how unambiguous the evidence is; see each detector's documentation.

Multiple testing. A statistical detector tests every subject of the country (thousands of
professionals, establishment × substance series, month after month), so a fixed per-test tail
probability would raise alerts on ordinary subjects in proportion to how many are tested: at
p < 1e-3, a national year of 50 000 tests yields about 50 alerts by chance alone. Statistical
detectors therefore report a finding only when it survives the Benjamini–Hochberg procedure over
all the tests the detector ran in that run (false discovery rate q = 5 %, the tests that could not
reach significance counting as p = 1): the bar rises with the number of subjects tested, so a
national year and a district are held to the same expected share of false findings. A
per-test floor (each detector's own threshold) still applies to small data sets.
Peer comparisons use robust baselines (median and MAD-based sigma with a floor, like-with-like peer
groups); evidence that depends on counts (losses, unwitnessed events, orders) uses the count's own
sampling distribution (Poisson, binomial) with an expected value built from the subject's
exposure, so a subject is never flagged merely for being big.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from centinela.alerts.service import severity_for

MAD_TO_SIGMA = 1.4826


def strength_from_p(p: float) -> float:
    """Map a one-sided tail probability to an evidence strength in [0, 1]."""
    p = min(max(float(p), 1e-300), 1.0)
    return min(1.0, -math.log10(p) / 8.0)


def p_from_z(z: float) -> float:
    """Return the standard-normal upper tail probability of ``z``."""
    return float(stats.norm.sf(z))


def impact_from_mme(mme: float) -> float:
    """Map the MME involved in a finding to an impact in [0, 1] (log scale)."""
    return min(1.0, math.log10(1.0 + max(float(mme), 0.0)) / 5.0)


def calibrate(strength: float, mme: float) -> tuple[float, str]:
    """Return (score 0–100, severity) from an evidence strength and the MME involved."""
    strength = min(max(float(strength), 0.0), 1.0)
    score = round(70.0 * strength + 30.0 * impact_from_mme(mme), 1)
    return score, severity_for(score)


def robust_center_scale(values: np.ndarray, floor: float) -> tuple[float, float]:
    """Return (median, MAD-based sigma) of ``values``, the sigma never below ``floor``."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return med, max(MAD_TO_SIGMA * mad, floor)


def robust_z(x: float, peers: np.ndarray, floor: float) -> tuple[float, float, float]:
    """Return (z, median, sigma) of ``x`` against ``peers`` with a median/MAD scale."""
    med, sigma = robust_center_scale(peers, floor)
    return (x - med) / sigma, med, sigma


def percentile_of(x: float, peers: np.ndarray) -> float:
    """Return the percentile (0–100) of ``x`` among ``peers`` (ties count half)."""
    if len(peers) == 0:
        return 100.0
    below = float(np.sum(peers < x))
    equal = float(np.sum(peers == x))
    return round(100.0 * (below + 0.5 * equal) / len(peers), 1)


def poisson_sf(k: float, mu: float) -> float:
    """Return P(X ≥ k) for X ~ Poisson(mu)."""
    if mu <= 0:
        return 0.0 if k > 0 else 1.0
    return float(stats.poisson.sf(math.ceil(k) - 1, mu))


def bh_keep(pvals, n_tests: int | None = None, q: float = 0.05) -> np.ndarray:
    """Return a mask of the p-values that survive Benjamini–Hochberg at false discovery rate ``q``.

    ``n_tests`` is the number of tests run (≥ ``len(pvals)``): tests not passed in (screened out
    before a p-value was computed) count as p = 1, which only raises the bar.
    """
    p = np.asarray(pvals, dtype=float)
    if len(p) == 0:
        return np.zeros(0, dtype=bool)
    padded = np.concatenate([p, np.ones(max(int(n_tests or 0) - len(p), 0))])
    return stats.false_discovery_control(padded, method="bh")[: len(p)] <= q


def binom_sf(k: int, n: int, p: float) -> float:
    """Return P(X ≥ k) for X ~ Binomial(n, p)."""
    if n <= 0:
        return 1.0
    return float(stats.binom.sf(k - 1, n, min(max(p, 1e-9), 1.0)))


def icc(k: np.ndarray, n: np.ndarray) -> float:
    """Return the ANOVA estimate of the intra-actor correlation of a binary outcome (0 ≤ ρ < 1):
    how much more alike one actor's events are than events drawn at random from the stratum."""
    m, total = len(k), float(n.sum())
    if m < 2 or total <= m:
        return 0.0
    p = k / n
    pbar = float(k.sum()) / total
    msb = float((n * (p - pbar) ** 2).sum()) / (m - 1)
    msw = float((n * p * (1 - p)).sum()) / (total - m)
    n0 = (total - float((n * n).sum()) / total) / (m - 1)
    den = msb + (n0 - 1) * msw
    return float(min(max((msb - msw) / den, 0.0), 0.999)) if den > 0 else 0.0


def betabinom_sf(k: int, n: int, p: float, rho: float) -> float:
    """Return P(X ≥ k) for a beta-binomial with mean ``p`` and intra-class correlation ``rho``
    (ρ = 0 is the binomial)."""
    if rho <= 1e-9:
        return binom_sf(k, n, p)
    s = 1.0 / rho - 1.0
    return float(stats.betabinom.sf(k - 1, n, p * s, (1 - p) * s))
