"""Prospective space-time permutation scan statistic (Kulldorff et al., PLoS Med 2005).

Cylinders: a circle around each location (growing by nearest neighbours up to a radius and a
share of the locations) × a time window that ends on the last day (prospective surveillance).
Expected counts come from the space and time margins only, so no population at risk is needed;
significance comes from Monte-Carlo replicates that shuffle the days among the cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from centinela.lib.geo import haversine_matrix


@dataclass(frozen=True)
class ScanParams:
    max_window_days: int = 7
    max_radius_km: float = 75.0
    max_locations: int = 25
    n_sims: int = 999
    alpha: float = 0.05
    min_cases: int = 5
    seed: int = 20250101


@dataclass
class Cluster:
    centre: int
    locations: list[int]
    radius_km: float
    window_days: int
    observed: int
    expected: float
    llr: float
    p_value: float
    meta: dict = field(default_factory=dict)

    @property
    def relative_risk(self) -> float:
        return self.observed / self.expected if self.expected > 0 else float("inf")


def _llr(c: np.ndarray, mu: np.ndarray, total: float) -> np.ndarray:
    """Poisson generalized likelihood ratio, only for cylinders with more than expected."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(c > 0, c * np.log(c / mu), 0.0)
        rest = total - c
        outside = np.where(rest > 0, rest * np.log(rest / (total - mu)), 0.0)
        out = inside + outside
    return np.where((c > mu) & (mu > 0), out, 0.0)


def scan(loc: np.ndarray, day: np.ndarray, lat: np.ndarray, lon: np.ndarray, n_days: int,
         params: ScanParams = ScanParams()) -> list[Cluster]:
    """Return significant non-overlapping clusters, most likely first.

    ``loc`` and ``day`` give each case's location index (into ``lat``/``lon``) and day index
    (0..n_days-1; the last day is "now").
    """
    loc, day = np.asarray(loc, dtype=int), np.asarray(day, dtype=int)
    total = len(loc)
    if total < params.min_cases or n_days < 2:
        return []
    used = np.unique(loc)
    remap = {int(v): i for i, v in enumerate(used)}
    li = np.array([remap[int(v)] for v in loc])
    n_loc = len(used)
    dist = haversine_matrix(np.asarray(lat)[used], np.asarray(lon)[used])
    k_max = min(params.max_locations, n_loc)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k_max]
    radius = np.take_along_axis(dist, order, axis=1)
    valid = radius <= params.max_radius_km
    w_max = min(params.max_window_days, n_days - 1)

    loc_tot = np.bincount(li, minlength=n_loc).astype(float)
    day_tot = np.bincount(day, minlength=n_days).astype(float)
    # expected: (cases of the locations in the circle) × (cases of the days in the window) / C
    loc_cum = np.cumsum(loc_tot[order], axis=1)  # n_loc × k
    win_days = np.cumsum(day_tot[::-1][:w_max])  # w = 1..w_max ending on the last day
    mu = loc_cum[:, :, None] * win_days[None, None, :] / total

    def observed(days: np.ndarray) -> np.ndarray:
        recent = days >= n_days - w_max
        grid = np.zeros((n_loc, w_max))
        np.add.at(grid, (li[recent], n_days - 1 - days[recent]), 1.0)
        by_w = np.cumsum(grid, axis=1)  # cases in the last w days, per location
        return np.cumsum(by_w[order], axis=1)  # n_loc × k × w

    obs = observed(day)
    llr = np.where(valid[:, :, None], _llr(obs, mu, total), 0.0)
    rng = np.random.default_rng(params.seed)
    null_max = np.empty(params.n_sims)
    for s in range(params.n_sims):
        sim = observed(rng.permutation(day))
        null_max[s] = np.where(valid[:, :, None], _llr(sim, mu, total), 0.0).max()

    clusters: list[Cluster] = []
    taken: set[int] = set()
    flat = np.argsort(llr, axis=None)[::-1]
    for idx in flat:
        value = float(llr.flat[idx])
        if value <= 0:
            break
        i, k, w = np.unravel_index(idx, llr.shape)
        members = [int(v) for v in order[i, : k + 1]]
        if taken.intersection(members):
            continue
        p = (1 + int(np.sum(null_max >= value))) / (params.n_sims + 1)
        if p > params.alpha:
            break
        taken.update(members)
        clusters.append(Cluster(
            centre=int(used[i]), locations=[int(used[m]) for m in members],
            radius_km=float(radius[i, k]), window_days=int(w + 1), observed=int(obs[i, k, w]),
            expected=float(mu[i, k, w]), llr=value, p_value=p,
        ))
        if len(clusters) >= 10:
            break
    return clusters
