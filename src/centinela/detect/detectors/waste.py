"""Waste: self-witnessed and unwitnessed waste, and a professional's waste share vs colleagues."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import (
    bh_keep,
    binom_sf,
    p_from_z,
    percentile_of,
    robust_center_scale,
    robust_z,
    strength_from_p,
)
from centinela.detect.util import groups, month_bounds, month_index, pair_key

PEDIATRIC_AGE = 15


class SelfWitnessedWaste(Detector):
    """Waste whose witness is the same professional who wasted it (no independent witness).

    One alert per professional and calendar month.
    """

    name = "waste_self_witnessed"
    title = "Desecho autotestificado / Self-witnessed waste"
    subject_kind = "professional"
    realtime = True
    topics = ("waste",)
    thresholds = {"witness_id": "= professional_id"}
    evidence_fields = ("waste_events", "units", "event_ids")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero(f.is_type("waste") & (f.professional >= 0)
                              & (f.witness == f.professional))
        if len(rows) == 0:
            return []
        month = month_index(f.t[rows])
        key = pair_key(f.professional[rows], month - month.min())
        scope = ctx.in_scope
        out = []
        for _, grp in groups(key, rows):
            if not scope[grp].any():
                continue
            code = int(f.professional[grp[0]])
            pid = f.profv.name(code)
            m0, m1 = month_bounds(int(month_index(f.t[grp[:1]])[0]))
            units = float(f.qty[grp].sum())
            strength = min(0.8, 0.55 + 0.05 * (len(grp) - 1))
            summary = (f"{pid} registró {len(grp)} desecho(s) de {fmt(units, 2)} unidades "
                       f"atestiguados por sí mismo entre {day_str(int(f.t[grp].min()))} y "
                       f"{day_str(int(f.t[grp].max()))}.")
            est = int(f.est[grp[0]])
            out.append(self.draft(
                pid, m0, m1, strength, float(ctx.row_mme[grp].sum()), summary,
                {"waste_events": len(grp), "units": units,
                 "establishments": sorted({f.estv.name(int(e)) for e in f.est[grp]}),
                 **f.events(grp)},
                department=ctx.prof_department(code) or ctx.est_department(est),
                ubigeo=ctx.registry.est_ubigeo[est],
            ))
        return out


class UnwitnessedWaste(Detector):
    """Waste recorded without a witness, more often than the base rate of comparable waste explains.

    Comparable waste: the same kind of establishment and the same kind of waste (the residue of a
    dose, or the disposal of an expired lot, whose ``expiry`` falls before the end of the following
    month). A small pharmacy with one pharmacist destroys expired stock without a second signature
    far more often than a ward wastes a residue without one; one national rate would flag every
    such pharmacy for its staffing, not its behaviour. For each professional (or the
    establishment when no professional is named) and stratum, k unwitnessed of n events is
    flagged when k ≥ 3 and the tail P(X ≥ k) < 1e-3 under a beta-binomial whose mean r is the
    stratum's unwitnessed share (≥ 0.5 %) and whose intra-actor correlation ρ (ANOVA estimator) is
    estimated from the other actors of the stratum (leave-one-out, so the actor tested does not
    widen its own baseline). ρ is the over-dispersion: where unwitnessed events cluster by actor
    for structural reasons (one-pharmacist premises never have a second signature) an actor with
    every event unwitnessed is ordinary; where they are spread thinly (wards, ρ ≈ 0) the test is
    the binomial one. The p must also survive Benjamini–Hochberg (q = 5 %) over every actor ×
    stratum tested.
    """

    name = "waste_unwitnessed"
    title = "Desecho sin testigo / Unwitnessed waste"
    subject_kind = "professional"
    topics = ("waste",)
    thresholds = {"unwitnessed events": "≥ 3",
                  "beta-binomial tail vs comparable waste": "p < 1e-3",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all actors"}
    evidence_fields = ("observed", "expected", "base_rate", "intra_actor_correlation", "p_value")

    P_MAX, Q, MIN_RATE = 1e-3, 0.05, 0.005

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        waste = np.flatnonzero(f.is_type("waste") & ctx.in_scope)
        if len(waste) == 0:
            return []
        unw = f.witness[waste] < 0
        # Strata: establishment kind × (expired-lot disposal or dose residue).
        kinds = ctx.registry.est_kind
        kind_code = {k: i for i, k in enumerate(sorted({k or "" for k in kinds}))}
        est_kind = np.array([kind_code[k or ""] for k in kinds] or [0], dtype=np.int64)
        stratum = np.where(f.est[waste] >= 0, est_kind[np.maximum(f.est[waste], 0)], -1) * 2 \
            + ctx.waste_expired[waste]
        _, s_inv = np.unique(stratum, return_inverse=True)
        s_rate = np.maximum(np.bincount(s_inv, weights=unw.astype(float)) / np.bincount(s_inv),
                            self.MIN_RATE)
        rate = max(float(unw.mean()), self.MIN_RATE)
        # Actor: the professional, else the establishment (offset so codes never collide).
        prof = f.professional[waste]
        actor = np.where(prof >= 0, prof.astype(np.int64), len(f.profv) + f.est[waste].astype(np.int64))
        # One test per actor × stratum; the stratum's actors give the over-dispersion.
        cell = actor * 4096 + s_inv
        cells: list[tuple] = []
        for c, grp_pos in groups(cell, np.arange(len(waste))):
            cells.append((int(c) // 4096, int(c) % 4096, grp_pos, int(unw[grp_pos].sum()), len(grp_pos)))
        by_stratum: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for st in range(len(s_rate)):
            ks = np.array([x[3] for x in cells if x[1] == st], dtype=float)
            ns = np.array([x[4] for x in cells if x[1] == st], dtype=float)
            by_stratum[st] = (ks, ns)
        cands, n_tests = [], len(cells)
        for a, st, grp_pos, k, n in cells:
            if k < 3:
                continue
            r = float(s_rate[st])
            if binom_sf(k, n, r) >= self.P_MAX:
                continue  # not even unusual for an exchangeable event
            ks, ns = by_stratum[st]
            mine = np.flatnonzero((ks == k) & (ns == n))[:1]
            keep_mask = np.ones(len(ks), dtype=bool)
            keep_mask[mine] = False
            rho = _icc(ks[keep_mask], ns[keep_mask])
            r_loo = max(float(ks[keep_mask].sum() / max(ns[keep_mask].sum(), 1.0)), self.MIN_RATE)
            p = _betabinom_sf(k, n, r_loo, rho)
            if p < self.P_MAX:
                rows = waste[grp_pos]
                cands.append((p, a, rho, rows[unw[grp_pos]], k, n, n * r_loo))
        keep = bh_keep([c[0] for c in cands], n_tests, self.Q)
        out = []
        for (p, a, rho, bad, k, n, mu), ok in zip(cands, keep, strict=True):
            if not ok:
                continue
            if a < len(f.profv):
                kind, sid, dept = "professional", f.profv.name(int(a)), ctx.prof_department(int(a))
            else:
                est = int(a - len(f.profv))
                kind, sid, dept = "establishment", f.estv.name(est), ctx.est_department(est)
            est0 = int(f.est[bad[0]])
            summary = (f"{sid} registró {k} de {n} desechos sin testigo entre "
                       f"{day_str(int(f.t[bad].min()))} y {day_str(int(f.t[bad].max()))} "
                       f"(se esperaban {mu:.1f} según desechos comparables).")
            out.append(self.draft(
                sid, int(f.t[bad].min()), int(f.t[bad].max()), strength_from_p(p),
                float(ctx.row_mme[bad].sum()), summary,
                {"metric": "unwitnessed waste events", "observed": k, "waste_events": n,
                 "expected": round(mu, 3), "base_rate": round(mu / n, 5), "national_rate": rate,
                 "intra_actor_correlation": round(rho, 4), "p_value": p,
                 "units": float(f.qty[bad].sum()), **f.events(bad)},
                department=dept or ctx.est_department(est0), ubigeo=ctx.registry.est_ubigeo[est0],
                subject_kind=kind,
            ))
        return out


def _icc(k: np.ndarray, n: np.ndarray) -> float:
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


def _betabinom_sf(k: int, n: int, p: float, rho: float) -> float:
    """Return P(X ≥ k) for a beta-binomial with mean ``p`` and intra-class correlation ``rho``
    (ρ = 0 is the binomial)."""
    from scipy import stats

    if rho <= 1e-9:
        return binom_sf(k, n, p)
    s = 1.0 / rho - 1.0
    return float(stats.betabinom.sf(k - 1, n, p * s, (1 - p) * s))


class WasteShare(Detector):
    """A professional who wastes a larger share of a product than colleagues handling it.

    Share = waste ÷ (administered + wasted) units of one product, per professional, over the whole
    window and over rolling 90-day windows (a diversion may last a few months); the strongest
    window is reported. The share measures the residue of the professional's own doses, so only
    professionals who administer the product are compared, and disposal of expired stock (waste of
    a lot whose ``expiry`` falls before the end of the following month) is left out: a pharmacist
    who destroys an expired batch wastes "100 %" of what she handled, which says nothing about
    doses.
    Peers: every professional with ≥ 10 units of the same product and the same patient age band
    (pediatric care wastes more of each ampoule). Robust z of logit(share) against the peers'
    median/MAD (σ ≥ 0.35); flagged when z ≥ 3.5 and the excess over the peer median is ≥ 3 units.
    Every professional × product × window is a test, so the p of z must also survive
    Benjamini–Hochberg (q = 5 %) over all the tests of the run.
    """

    name = "waste_share"
    title = "Proporción de desecho atípica / Atypical waste share"
    subject_kind = "professional"
    topics = ("waste", "diversion")
    thresholds = {"robust z (logit share)": "≥ 3.5", "excess units": "≥ 3",
                  "units handled": "≥ 10", "peers": "≥ 8",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all tests",
                  "excluded": "disposal of expired lots; professionals who administer none"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "peers")

    Z_MIN, MIN_UNITS, MIN_PEERS, MIN_EXCESS, SIGMA_FLOOR, Q = 3.5, 10.0, 8, 3.0, 0.35, 0.05

    WINDOW_DAYS, STEP_DAYS = 90, 30

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows_all = np.flatnonzero(f.is_type("administer", "waste") & ctx.in_scope
                                  & (f.professional >= 0) & (f.product >= 0) & ~ctx.waste_expired)
        if len(rows_all) == 0:
            return []
        # Patient age band of each professional (median age of the patients they administer to).
        adm = rows_all[f.is_type("administer")[rows_all] & ~np.isnan(f.birth_year[rows_all])]
        ped = {p: float(np.median(ctx.now.year - f.birth_year[g])) < PEDIATRIC_AGE
               for p, g in groups(f.professional[adm], adm)}
        # The whole window, then rolling 90-day windows (a diversion may last a few months).
        windows = [(ctx.start_t, ctx.now_t + 1)]
        end = ctx.now_t + 1
        while end - self.WINDOW_DAYS * DAY >= max(ctx.start_t, int(f.t[rows_all].min()) - DAY):
            windows.append((end - self.WINDOW_DAYS * DAY, end))
            end -= self.STEP_DAYS * DAY
        best: dict[int, tuple] = {}
        self._tests = 0
        for w0, w1 in windows:
            rows = rows_all[(f.t[rows_all] >= w0) & (f.t[rows_all] < w1)]
            for cand in self._scan(ctx, rows, ped):
                p = cand[0]
                if p not in best or cand[1] > best[p][1]:
                    best[p] = cand
        keep = bh_keep([p_from_z(c[1]) for c in best.values()], self._tests, self.Q)
        best = {p: c for (p, c), k in zip(best.items(), keep, strict=True) if k}
        out = []
        for p, (_, z, rows, inv, i, waste, total, prod, med_share, peer_shares, npeers,
                excess, b) in best.items():
            g = rows[inv == i]
            w = g[f.is_type("waste")[g]]
            pid = f.profv.name(p)
            product = f.prodv.name(int(prod[i]))
            obs = float(waste[i] / total[i])
            pval = p_from_z(z)
            unit_mme = float(ctx.registry.prod_mme[int(prod[i])])
            est0 = int(f.est[g[0]])
            summary = (f"{pid} desechó el {100 * obs:.0f} % de las unidades de {product} que manejó "
                       f"(mediana de {npeers} colegas: {100 * med_share:.0f} %), un exceso de "
                       f"{fmt(excess, 1)} unidades.")
            out.append(self.draft(
                pid, int(f.t[g].min()), int(f.t[g].max()), strength_from_p(pval), excess * unit_mme,
                summary,
                {"metric": "waste share", "product_code": product, "observed": obs,
                 "expected": float(med_share),
                 "peer_range": [float(np.percentile(peer_shares, 25)),
                                float(np.percentile(peer_shares, 75))],
                 "percentile": percentile_of(obs, peer_shares), "z": float(z), "p_value": pval,
                 "peers": npeers, "pediatric_band": bool(b), "units_handled": float(total[i]),
                 "units_wasted": float(waste[i]), "excess_units": excess, **f.events(w)},
                department=ctx.prof_department(p) or ctx.est_department(est0),
                ubigeo=ctx.registry.est_ubigeo[est0],
            ))
        return out

    def _scan(self, ctx: DetectionContext, rows: np.ndarray, ped: dict) -> list[tuple]:
        """Return (professional, z, rows, inv, i, waste, total, prod, peer median share, peer
        shares, peers, excess units, pediatric) for each outlier in one window."""
        f = ctx.frame
        if len(rows) == 0:
            return []
        is_w = f.is_type("waste")[rows]
        key = pair_key(f.professional[rows], f.product[rows])
        uniq, inv = np.unique(key, return_inverse=True)
        waste = np.bincount(inv, weights=np.where(is_w, f.qty[rows], 0.0))
        total = np.bincount(inv, weights=f.qty[rows])
        prof = np.zeros(len(uniq), np.int64)
        prod = np.zeros(len(uniq), np.int64)
        prof[inv] = f.professional[rows]
        prod[inv] = f.product[rows]
        band = np.array([ped.get(int(p), False) for p in prof], dtype=bool)
        given = total - waste
        share = (waste + 0.5) / (total + 1.0)
        logit = np.log(share / (1 - share))
        eligible = (total >= self.MIN_UNITS) & (given > 0)
        out = []
        for g in np.unique(prod[eligible]):
            for b in (False, True):
                idx = np.flatnonzero(eligible & (prod == g) & (band == b))
                if len(idx) < self.MIN_PEERS + 1:
                    continue
                self._tests += len(idx)
                med0, sig0 = robust_center_scale(logit[idx], self.SIGMA_FLOOR)
                # Screen with the whole group, then confirm leave-one-out for the few candidates.
                for i in idx[(logit[idx] - med0) / sig0 >= self.Z_MIN * 0.8]:
                    others = idx[idx != i]
                    z, med, _ = robust_z(float(logit[i]), logit[others], self.SIGMA_FLOOR)
                    if z < self.Z_MIN:
                        continue
                    med_share = 1 / (1 + np.exp(-med))
                    excess = float(waste[i] - med_share * total[i])
                    if excess < self.MIN_EXCESS:
                        continue
                    out.append((int(prof[i]), float(z), rows, inv, int(i), waste, total, prod,
                                med_share, waste[others] / total[others], len(others), excess, b))
        return out
