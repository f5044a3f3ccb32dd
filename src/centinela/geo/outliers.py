"""Geographic outliers: which places consume far more than their people and facilities explain.

A pure method (NumPy/SciPy, no database), the same for Peru's districts and any country's
counties. Per region ``i``: observed quantity ``y`` over an exposure ``n`` (residents × periods).

1. **Expected.** ``E = n × r0 × exp(X β)``: the national rate, adjusted for covariates that
   legitimately drive use (hospital beds per resident, referral hospitals, age structure), each
   constrained to raise use (β ≥ 0: give a covariate that lowers use with its sign flipped). ``β`` is
   fitted by a Huber-weighted least squares of the log rate on ``X`` over regions with enough
   data, so the outliers being looked for cannot pull the expectation up to themselves; the
   ``loo`` (15) most extreme regions get their expectation from a fit without them, so a
   high-leverage place (the one district with a big hospital) cannot bend the covariates either.
2. **Sampling noise.** Quantities are sums over patients, each taking very different amounts, so
   they are over-dispersed far beyond Poisson: one patient on patches can be the whole consumption
   of a small district. Each region's quantity is converted to an *effective count*
   ``y' = y / φ``: either given (the Kish effective number of patients, ``(Σ q)² / Σ q²``, when
   patient-level data exist) or with ``φ`` estimated from the data (Marshall-style moments: the
   trimmed mean Pearson residual ``(y − E)² / E`` in bins of ``E`` regressed on ``E``; its
   intercept is ``φ``).
3. **Legitimate heterogeneity.** Regions differ for reasons no covariate captures; the relative
   risk ``θ = rate / expected`` is log-normal, ``log θ ~ N(μ, τ²)``, with ``μ`` and ``τ`` estimated
   robustly (median and MAD of ``log(y / E)`` over well-measured regions, less their sampling
   variance; ``τ ≥ 0.1``).
4. **Smoothed rate** (empirical Bayes): the posterior mean of ``θ`` given ``y'`` under a Poisson
   likelihood on effective counts and that log-normal prior (Gauss–Hermite quadrature), times the
   expected rate. A tiny place with one heavy patient is pulled back towards its expectation.
5. **Score.** The predictive tail probability ``p = P(Y' ≥ y')`` of a region drawn from the same
   distribution (Poisson on the effective scale mixed over the log-normal): small only when the
   excess is beyond both sampling noise and ordinary regional variation. ``score`` is its normal
   equivalent ``z = Φ⁻¹(1 − p)``.
6. **Multiple testing.** Every region is a test: flagged only when Benjamini–Hochberg keeps it at
   false discovery rate ``q`` (5 %) and the smoothed rate is at least ``min_ratio`` (1.5) times the
   expected rate. ``rank`` 1 is the most extreme (by score, then smoothed ratio).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

TAU_FLOOR = 0.1
N_NODES = 40
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(N_NODES)
_LOGW = np.log(_WEIGHTS / _WEIGHTS.sum())


@dataclass
class OutlierResult:
    """Per-region arrays (aligned to the input order) and the fitted parameters."""

    rate: np.ndarray
    expected_rate: np.ndarray
    expected: np.ndarray  # expected quantity
    smoothed_rate: np.ndarray
    ratio: np.ndarray  # smoothed_rate / expected_rate
    raw_ratio: np.ndarray
    effective: np.ndarray
    p_value: np.ndarray
    q_value: np.ndarray
    score: np.ndarray
    flagged: np.ndarray
    rank: np.ndarray
    params: dict = field(default_factory=dict)


def _wls(X: np.ndarray, yv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares with the covariate coefficients (all but the first) ≥ 0: refit
    without the most negative covariate until none is negative (few covariates: a handful of
    small solves, much faster than a general bounded solver)."""
    sw = np.sqrt(w)
    A, b = X * sw[:, None], yv * sw
    active = list(range(X.shape[1]))
    while True:
        coef = np.linalg.lstsq(A[:, active], b, rcond=None)[0]
        neg = [(c, j) for c, j in zip(coef[1:], active[1:], strict=True) if c < 0]
        if not neg:
            out = np.zeros(X.shape[1])
            out[active] = coef
            return out
        active.remove(min(neg)[1])


def _huber_wls(X: np.ndarray, yv: np.ndarray, w: np.ndarray, iters: int = 20) -> np.ndarray:
    """Return Huber-weighted least-squares coefficients of ``yv`` on ``X`` (weights ``w``),
    covariate coefficients constrained to raise the expectation (≥ 0)."""
    beta = _wls(X, yv, w)
    for _ in range(iters):
        r = (yv - X @ beta) * np.sqrt(w)
        s = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1e-6)
        u = np.abs(r) / (1.345 * s)
        hw = np.where(u <= 1, 1.0, 1.0 / np.maximum(u, 1e-12))
        new = _wls(X, yv, w * hw)
        if np.allclose(new, beta, atol=1e-8):
            return new
        beta = new
    return beta


def estimate_dispersion(y: np.ndarray, E: np.ndarray, bins: int = 10) -> float:
    """Return φ of ``Var(y) = φ E + A E²`` from Pearson residuals ``(y − E)² / E`` in bins of E.

    The larger of the fitted intercept and the mean of the smallest-E bin (where φ dominates):
    cautious, since regional heterogeneity can only make it larger, never smaller.
    """
    ok = E > 0
    y, E = y[ok], E[ok]
    if len(y) < 3:
        return float(max(np.mean(y) if len(y) else 1.0, 1e-12))
    pr = (y - E) ** 2 / E
    phi = _intercept(E, pr, bins)
    order = np.argsort(E)
    low = order[: max(len(order) // int(min(bins, max(len(order) // 15, 1))), 3)]
    return float(max(phi, float(np.mean(pr[low])), 1e-12))


def dispersion_over_periods(Y: np.ndarray, N: np.ndarray) -> float | None:
    """Return φ from the period-to-period variation of each region's quantity (``Y``, ``N``:
    regions × periods, NaN where missing), or None with too few regions of ≥ 2 periods.

    Each region's quantity is shared across its periods in proportion to population × the national
    rate of the period; the Pearson statistic per degree of freedom of each region, regressed on
    its mean expected quantity like ``estimate_dispersion``, has intercept φ (real changes over
    time only make φ larger, i.e. the test more cautious).
    """
    ok = ~np.isnan(Y) & ~np.isnan(N) & (N > 0)
    Yz, Nz = np.where(ok, Y, 0.0), np.where(ok, N, 0.0)
    g = Yz.sum(axis=0) / np.maximum(Nz.sum(axis=0), 1e-300)
    w = Nz * g[None, :]
    tot, wt = Yz.sum(axis=1), w.sum(axis=1)
    T = ok.sum(axis=1)
    use = (T >= 2) & (tot > 0) & (wt > 0)
    if use.sum() < 20:
        return None
    Eit = tot[use, None] * w[use] / wt[use, None]
    pear = np.where(ok[use] & (Eit > 0), (Yz[use] - Eit) ** 2 / np.maximum(Eit, 1e-300), 0.0)
    x2 = pear.sum(axis=1) / (T[use] - 1)
    mean_e = tot[use] / T[use]
    return _intercept(mean_e, x2)


def _intercept(xs_raw: np.ndarray, v_raw: np.ndarray, bins: int = 10) -> float:
    """Return the non-negative intercept of ``v = φ + A x`` fitted on bin means (small bins weigh more)."""
    from scipy.optimize import nnls

    order = np.argsort(xs_raw)
    nb = int(min(bins, max(len(order) // 15, 1)))
    xs = np.array([float(np.mean(xs_raw[c])) for c in np.array_split(order, nb)])
    vs = np.array([float(np.mean(v_raw[c])) for c in np.array_split(order, nb)])
    if len(xs) < 2 or np.ptp(xs) == 0:
        return float(max(vs[0], 1e-12))
    A = np.column_stack([np.ones_like(xs), xs])
    wt = 1.0 / (1.0 + xs / max(np.median(xs), 1e-12))
    coef, _ = nnls(A * wt[:, None], vs * wt)
    return float(coef[0] if coef[0] > 0 else max(vs[0], 1e-12))


def posterior_mean(k: np.ndarray, E: np.ndarray, tau: float, df: float = 4.0) -> np.ndarray:
    """Return E[e^u | k] for k ~ Poisson(E e^u), u ~ τ · Student-t(df) (adaptive Gauss–Hermite).

    The heavy-tailed prior shrinks noise but lets a well-measured large excess keep its size.
    """
    k = np.asarray(k, dtype=float)
    E = np.maximum(np.asarray(E, dtype=float), 1e-300)

    def logt(u):
        return (_log_pois(k[:, None], E[:, None] * np.exp(u))
                - 0.5 * (df + 1.0) * np.log1p((u / tau) ** 2 / df))

    # Start from the normal approximation, then re-centre twice on the weighted posterior.
    vd = 1.0 / (k + 0.5)
    v = 1.0 / (1.0 / tau ** 2 + 1.0 / vd)
    m = v * np.log((k + 0.5) / E) / vd
    sd = 2.0 * np.sqrt(v)
    for _ in range(3):
        u = m[:, None] + sd[:, None] * _NODES[None, :]
        logw = _LOGW[None, :] + 0.5 * _NODES[None, :] ** 2 + logt(u)
        logw -= logw.max(axis=1, keepdims=True)
        w = np.exp(logw)
        w /= w.sum(axis=1, keepdims=True)
        m_new = (w * u).sum(axis=1)
        sd = np.maximum(1.5 * np.sqrt(np.maximum((w * (u - m_new[:, None]) ** 2).sum(axis=1), 0.0)),
                        1e-6)
        m = m_new
    return (w * np.exp(u)).sum(axis=1)


def _log_pois(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Log Poisson density extended to non-integer ``k`` (gamma function)."""
    lam = np.maximum(lam, 1e-300)
    return k * np.log(lam) - lam - special.gammaln(k + 1.0)


def outliers(quantity, exposure, covariates=None, effective=None, dispersion: float | None = None,
             q: float = 0.05, min_ratio: float = 1.5, min_effective: float = 3.0,
             loo: int = 15) -> OutlierResult:
    """Score every region's consumption against its expectation (see the module docstring).

    ``quantity`` and ``exposure`` (residents × periods) are per region; ``covariates`` an
    ``(n, k)`` array of explanatory variables (already transformed, e.g. ``log1p`` of beds per
    1 000 residents); ``effective`` the effective count of independent units behind each quantity
    when known (else ``quantity / φ`` with ``dispersion`` φ, estimated when ``None``).
    """
    y = np.asarray(quantity, dtype=float)
    n = np.asarray(exposure, dtype=float)
    m = len(y)
    if n.shape != (m,):
        raise ValueError("quantity and exposure must have the same length")
    if np.any(~np.isfinite(y)) or np.any(y < 0):
        raise ValueError("quantities must be finite and ≥ 0")
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ValueError("exposures (population × periods) must be finite and > 0")
    X = np.ones((m, 1))
    if covariates is not None:
        C = np.asarray(covariates, dtype=float).reshape(m, -1)
        if np.any(~np.isfinite(C)):
            raise ValueError("covariates must be finite")
        C = C - C.mean(axis=0) if m else C
        X = np.column_stack([X, C])
    total_y, total_n = float(y.sum()), float(n.sum())
    rate = y / n
    r0 = total_y / total_n if total_y > 0 else 0.0
    empty = _empty_result(rate, m) if r0 == 0 else None
    if empty is not None:
        return empty

    # 1-2. First expectation (national rate), dispersion, effective counts.
    E0 = n * r0
    if effective is not None:
        eff = np.asarray(effective, dtype=float)
        phi_i = np.where(eff > 0, y / np.maximum(eff, 1e-12), np.nan)
        phi_nat = float(np.nansum(y) / np.nansum(eff)) if np.nansum(eff) > 0 else 1.0
        phi_i = np.where(np.isnan(phi_i), phi_nat, phi_i)
        phi = phi_nat
    else:
        phi = float(dispersion) if dispersion else estimate_dispersion(y, E0)
        phi_i = np.full(m, phi)
        eff = y / phi
    # 1. Covariate expectation: Huber-weighted least squares of the log rate over the regions
    # with enough data (weights grow with the effective count).
    good = eff >= min_effective
    if good.sum() < max(5, 2 * X.shape[1]):
        good = y > 0
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(r0)
    lr_all = np.log(np.maximum(y, 1e-300) / n)
    w_all = 1.0 / (0.1 + 1.0 / np.maximum(eff, 0.5))
    if X.shape[1] > 1 and good.sum() >= X.shape[1] + 2:
        beta = _huber_wls(X[good], lr_all[good], w_all[good])
        if effective is None and not dispersion:
            # Dispersion again around the covariate expectation (beds explain part of the spread).
            phi = estimate_dispersion(y, n * np.exp(X @ beta))
            phi_i = np.full(m, phi)
            eff = y / phi
    # Re-centre so the expectations add up to the robust typical level (μ handles the rest).
    base = np.exp(X @ beta)  # expected rate before the robust shift
    # 3. Heterogeneity: robust centre and spread of log(y/E) over well-measured regions.
    lrr = np.full(m, np.nan)
    pos = y > 0
    lrr[pos] = np.log(y[pos] / (n[pos] * base[pos]))
    # Spread from the best-measured regions (sampling noise there is small and subtracted).
    use = good & pos
    if use.sum() >= 20:
        use = use & (eff >= max(min_effective, float(np.median(eff[use]))))
    if use.sum() < 3:
        use = pos
    mu = float(np.median(lrr[use]))
    mad = 1.4826 * float(np.median(np.abs(lrr[use] - mu)))
    noise = float(np.median(1.0 / np.maximum(eff[use], 0.5)))  # var(log y) ≈ 1 / y'
    tau = float(max(np.sqrt(max(mad ** 2 - noise, 0.0)), TAU_FLOOR))
    exp_rate = base * np.exp(mu)
    if X.shape[1] > 1 and good.sum() > X.shape[1] + 3:
        # A region with high leverage can bend the covariate fit towards itself (a district
        # with a hospital and a real excess makes 'beds' look like the cause). The regions that
        # look most extreme get their expectation from a fit without them (leave-one-out).
        ratio0 = np.where(pos, y / (n * exp_rate), 0.0)
        z0 = np.where(pos, np.log(np.maximum(ratio0, 1e-300)) * np.sqrt(np.minimum(eff, 1e6)), -np.inf)
        for i in np.argsort(-z0)[: min(loo, int(pos.sum()))]:
            keep = good.copy()
            keep[i] = False
            b_i = _huber_wls(X[keep], lr_all[keep], w_all[keep])
            use_i = use.copy()
            use_i[i] = False
            base_i = np.exp(X @ b_i)
            mu_i = float(np.median(np.log(y[use_i] / (n[use_i] * base_i[use_i]))))
            exp_rate[i] = base_i[i] * np.exp(mu_i)
    E = n * exp_rate
    # Effective expected count, on each region's own scale.
    Eeff = E / phi_i
    # 4. Posterior mean of θ = e^u, u ~ N(0, τ²), Poisson likelihood on the effective scale:
    # Gauss–Hermite quadrature centred on the normal approximation of each posterior (adaptive),
    # exact enough whether a region has 0 or 10⁶ effective units.
    theta = posterior_mean(eff, Eeff, tau)
    smoothed = exp_rate * theta
    # Test H0: the region's true rate is at most c × expected, c beyond ordinary variation
    # (2 τ on the log scale) and at least min_ratio; Poisson tail on the effective scale,
    # P(Y' ≥ y') = regularized lower incomplete gamma P(y', λ).
    c = float(max(min_ratio, np.exp(2.0 * tau)))
    p = np.where(eff > 0, special.gammainc(np.maximum(eff, 1e-12), c * Eeff), 1.0)
    p = np.clip(p, 0.0, 1.0)
    qv = stats.false_discovery_control(p, method="bh") if m else p
    # z of the tail; beyond floating point, the signed root of the Poisson deviance (its
    # large-deviation equivalent) keeps the strongest excesses apart.
    lam0 = np.maximum(c * Eeff, 1e-300)
    dev = 2.0 * (eff * np.log(np.maximum(eff, 1e-300) / lam0) - (eff - lam0))
    root = np.sign(eff - lam0) * np.sqrt(np.maximum(dev, 0.0))
    score = np.where(p > 1e-250, stats.norm.isf(p), root)
    ratio = smoothed / exp_rate
    # The null already sits at c ≥ min_ratio × expected; an excess also needs a few independent
    # units (patients): one patient, however heavy, is a matter for the patient detectors.
    flagged = (qv <= q) & (eff >= min_effective)
    # Most extreme first: the smoothed ratio (empirical-Bayes estimates are made for ranking).
    order = np.lexsort((-score, -ratio))
    rank = np.empty(m, dtype=int)
    rank[order] = np.arange(1, m + 1)
    return OutlierResult(
        rate=rate, expected_rate=exp_rate, expected=E, smoothed_rate=smoothed, ratio=ratio,
        raw_ratio=y / E, effective=eff, p_value=p, q_value=qv, score=score, flagged=flagged,
        rank=rank,
        params={"national_rate": r0, "dispersion": phi, "mu": mu, "tau": tau,
                "beta": [float(b) for b in beta], "regions": m, "q": q, "min_ratio": min_ratio,
                "threshold_ratio": c},
    )


def _empty_result(rate: np.ndarray, m: int) -> OutlierResult:
    z = np.zeros(m)
    return OutlierResult(rate=rate, expected_rate=z, expected=z, smoothed_rate=z, ratio=z,
                         raw_ratio=z, effective=z, p_value=np.ones(m), q_value=np.ones(m),
                         score=np.full(m, -8.0), flagged=np.zeros(m, bool),
                         rank=np.arange(1, m + 1), params={"national_rate": 0.0, "regions": m})


def kish_effective(amounts_by_region: dict[str, np.ndarray]) -> dict[str, float]:
    """Return region → effective number of units ``(Σ a)² / Σ a²`` of per-unit amounts."""
    out = {}
    for k, a in amounts_by_region.items():
        a = np.asarray(a, dtype=float)
        s2 = float(np.sum(a * a))
        out[k] = float(np.sum(a)) ** 2 / s2 if s2 > 0 else 0.0
    return out
