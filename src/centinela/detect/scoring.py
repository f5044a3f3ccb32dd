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


def binom_sf(k: int, n: int, p: float) -> float:
    """Return P(X ≥ k) for X ~ Binomial(n, p)."""
    if n <= 0:
        return 1.0
    return float(stats.binom.sf(k - 1, n, min(max(p, 1e-9), 1.0)))
