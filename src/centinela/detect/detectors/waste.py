"""Waste: waste without an independent witness (base rates) and a professional's waste share."""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import stats
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import (
    betabinom_sf,
    bh_keep,
    binom_sf,
    icc,
    p_from_z,
    percentile_of,
    robust_center_scale,
    robust_z,
    strength_from_p,
)
from centinela.detect.util import groups, lima_night, pair_key, role_of
from centinela.lib.clock import LIMA_OFFSET_S

PEDIATRIC_AGE = 15


class UnwitnessedWaste(Detector):
    """Waste without an independent witness (no witness, or the handler signing as her own
    witness) more often than comparable waste at the same establishment and in the country.

    Self-witnessed and unwitnessed waste both have a base rate in real reporting: hospitals
    where signing as one's own witness is a habit of the whole ward, night shifts with no second
    nurse, one-pharmacist premises destroying expired stock. One alert per occurrence floods the
    authorities with that base rate, so each actor (the professional, else the establishment) is
    tested against its peers instead. Comparable waste (a stratum) = the same kind of
    establishment, the same role, the same kind of waste (dose residue, or disposal of a lot
    whose ``expiry`` falls before the end of the following month) and the same shift (night:
    22:00–06:00 Lima). For k events without an independent witness out of n, the expected share
    r is that of the actor's colleagues at the same establishment in the same stratum
    (leave-one-out, when they recorded ≥ 20 such events: a ward-wide habit is then the
    expectation, not a finding, and other wards' habits are not), else the national share of
    the stratum; never below 0.5 %.
    Over-dispersion ρ (ANOVA intra-actor correlation, pooled within establishments, else across
    the stratum) widens the test into a beta-binomial, so structural clustering is not read as
    behaviour. Flagged when k ≥ 3, P(X ≥ k) < 1e-3 and the p survives Benjamini–Hochberg
    (q = 5 %) over every actor × establishment × stratum tested.
    """

    name = "waste_unwitnessed"
    title = "Desecho sin testigo independiente / Waste without an independent witness"
    tolerates = (
        "a ward-wide habit of self-witnessing or missing night witnesses (the actor is "
        "compared with colleagues of the same establishment, shift and role), one-pharmacist "
        "premises destroying expired stock (over-dispersion), and isolated slips (k >= 3, p <"
        " 1e-3, Benjamini-Hochberg)."
    )
    subject_kind = "professional"
    topics = ("waste",)
    thresholds = {"events without independent witness": "≥ 3",
                  "beta-binomial tail vs colleagues and comparable waste": "p < 1e-3",
                  "colleagues' events for an establishment baseline": "≥ 20",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all actors"}
    evidence_fields = ("observed", "self_witnessed", "expected", "base_rate",
                       "establishment_rate", "intra_actor_correlation", "p_value")

    P_MAX, Q, MIN_RATE, MIN_EST_EVENTS = 1e-3, 0.05, 0.005, 20

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        waste = np.flatnonzero(f.is_type("waste") & ctx.in_scope)
        if len(waste) == 0:
            return []
        prof = f.professional[waste]
        selfw = (prof >= 0) & (f.witness[waste] == prof)
        unw = (f.witness[waste] < 0) | selfw
        # Strata: establishment kind × role × (expired-lot disposal or residue) × night shift.
        kinds = ctx.registry.est_kind
        kind_code = {k: i for i, k in enumerate(sorted({k or "" for k in kinds}))}
        est_kind = np.array([kind_code[k or ""] for k in kinds] or [0], dtype=np.int64)
        roles = {r: i for i, r in enumerate(("prescriber", "pharmacist", "nurse"))}
        role = np.array([roles.get(role_of(ctx, int(c)) or "", 3) if c >= 0 else 4 for c in prof],
                        dtype=np.int64)
        night = lima_night(f.t[waste])
        stratum = ((np.where(f.est[waste] >= 0, est_kind[np.maximum(f.est[waste], 0)], -1) * 8
                    + role) * 2 + ctx.waste_expired[waste]) * 2 + night
        _, s_inv = np.unique(stratum, return_inverse=True)
        rate = max(float(unw.mean()), self.MIN_RATE)
        # Actor: the professional, else the establishment (offset so codes never collide).
        actor = np.where(prof >= 0, prof.astype(np.int64), len(f.profv) + f.est[waste].astype(np.int64))
        est = f.est[waste].astype(np.int64)
        n_s = int(s_inv.max()) + 1
        cell = (actor * (len(f.estv) + 1) + (est + 1)) * n_s + s_inv
        cells: list[tuple] = []
        for _c, pos in groups(cell, np.arange(len(waste))):
            cells.append((int(actor[pos[0]]), int(est[pos[0]]), int(s_inv[pos[0]]), pos,
                          int(unw[pos].sum()), len(pos)))
        ck = np.array([x[4] for x in cells], dtype=float)
        cn = np.array([x[5] for x in cells], dtype=float)
        cs = np.array([x[2] for x in cells], dtype=np.int64)
        ce = np.array([x[1] for x in cells], dtype=np.int64)
        # Establishment × stratum totals (for the colleagues' leave-one-out share).
        es_key = ce * n_s + cs
        es_u, es_inv = np.unique(es_key, return_inverse=True)
        es_k = np.bincount(es_inv, weights=ck)
        es_n = np.bincount(es_inv, weights=cn)
        es_m = np.bincount(es_inv)
        s_k = np.bincount(cs, weights=ck, minlength=n_s)
        s_n = np.bincount(cs, weights=cn, minlength=n_s)
        # Baseline share of each cell: colleagues at the same establishment, else the country.
        r_cell = np.full(len(cells), np.nan)
        r_est_cell = np.full(len(cells), np.nan)
        screen = np.zeros(len(cells), dtype=bool)
        for j, (_a, _e, st, _pos, k, n) in enumerate(cells):
            r_nat = max(float((s_k[st] - k) / max(s_n[st] - n, 1.0)), self.MIN_RATE)
            others_n = float(es_n[es_inv[j]] - n)
            r = r_nat
            if others_n >= self.MIN_EST_EVENTS and es_m[es_inv[j]] >= 3:
                # Colleagues of the same establishment, shift and role are the peers: a national
                # share inflated by other wards' habits says nothing about this ward.
                r_est_cell[j] = float((es_k[es_inv[j]] - k + 0.5) / (others_n + 1.0))
                r = max(float(r_est_cell[j]), self.MIN_RATE)
            r_cell[j] = r
            screen[j] = k >= 3 and binom_sf(k, n, r) < self.P_MAX
        # Over-dispersion from the ordinary actors only (the candidates would widen their own
        # baseline): pooled within establishments where colleagues exist, else the stratum.
        ordinary = ~screen
        rho_all = {st: icc(ck[ordinary & (cs == st)], cn[ordinary & (cs == st)])
                   for st in np.unique(cs[screen])}
        rho_within = {st: _icc_within(ck[ordinary & (cs == st)], cn[ordinary & (cs == st)],
                                      es_inv[ordinary & (cs == st)])
                      for st in np.unique(cs[screen])}
        cands, n_tests = [], len(cells)
        for j in np.flatnonzero(screen):
            a, _e, st, pos, k, n = cells[j]
            r_est = None if np.isnan(r_est_cell[j]) else float(r_est_cell[j])
            r = float(r_cell[j])
            rho = rho_within[st] if r_est is not None else rho_all[st]
            p = betabinom_sf(k, n, r, rho)
            if p < self.P_MAX:
                rows = waste[pos]
                cands.append((p, a, rho, rows[unw[pos]], k, n, n * r, r_est, int(selfw[pos].sum())))
        keep = bh_keep([c[0] for c in cands], n_tests, self.Q)
        # One alert per actor: its strongest cell.
        best: dict[int, tuple] = {}
        for c, ok in zip(cands, keep, strict=True):
            if ok and (c[1] not in best or c[0] < best[c[1]][0]):
                best[c[1]] = c
        out = []
        for p, a, rho, bad, k, n, mu, r_est, n_self in best.values():
            if a < len(f.profv):
                kind, sid, dept = "professional", f.profv.name(int(a)), ctx.prof_department(int(a))
            else:
                e = int(a - len(f.profv))
                kind, sid, dept = "establishment", f.estv.name(e), ctx.est_department(e)
            est0 = int(f.est[bad[0]])
            how = (f" ({n_self} firmados por sí mismo como testigo)" if n_self else "")
            summary = (f"{sid} registró {k} de {n} desechos sin testigo independiente{how} entre "
                       f"{day_str(int(f.t[bad].min()))} y {day_str(int(f.t[bad].max()))} "
                       f"(se esperaban {mu:.1f} según sus colegas y desechos comparables).")
            out.append(self.draft(
                sid, int(f.t[bad].min()), int(f.t[bad].max()), strength_from_p(p),
                float(ctx.row_mme[bad].sum()), summary,
                {"metric": "waste without independent witness", "observed": k,
                 "self_witnessed": n_self, "waste_events": n,
                 "expected": round(mu, 3), "base_rate": round(mu / n, 5), "national_rate": rate,
                 "establishment_rate": None if r_est is None else round(r_est, 5),
                 "intra_actor_correlation": round(rho, 4), "p_value": p,
                 "units": float(f.qty[bad].sum()), **f.events(bad)},
                department=dept or ctx.est_department(est0), ubigeo=ctx.registry.est_ubigeo[est0],
                subject_kind=kind,
            ))
        return out


def _sum_sf(parts: list[tuple[np.ndarray, int]], observed: float, bins: int = 400) -> float:
    """Return P(Σ ≥ observed) for a sum of independent draws: n draws (with replacement) from each
    empirical sample (the colleagues' day residuals of each product), by FFT convolution on a
    common grid (a bootstrap distribution computed exactly instead of sampled)."""
    lo = sum(n * float(r.min()) for r, n in parts)
    hi = sum(n * float(r.max()) for r, n in parts)
    if hi <= lo:
        return 1.0 if observed <= hi else 0.0
    step = (hi - lo) / (bins * len(parts) * 4)
    size = int(np.ceil((hi - lo) / step)) + 2 * sum(n for _, n in parts) + 2
    nfft = 1 << int(np.ceil(np.log2(size)))
    spec = np.ones(nfft // 2 + 1, dtype=complex)
    offset = 0
    for r, n in parts:
        mn = float(r.min())
        pmf = np.bincount(np.rint((r - mn) / step).astype(np.int64)) / len(r)
        spec *= np.fft.rfft(pmf, nfft) ** n
        offset += n * mn
    dist = np.maximum(np.fft.irfft(spec, nfft), 0.0)
    k = int(np.ceil((observed - offset) / step - 1e-9))
    return float(min(dist[max(k, 0):].sum() / max(dist.sum(), 1e-300), 1.0))


def _icc_within(k: np.ndarray, n: np.ndarray, group: np.ndarray) -> float:
    """Return the intra-actor correlation of actors around their own establishment's share
    (ANOVA, pooled over establishments): the spread left once a ward-wide habit is known."""
    m, total = len(k), float(n.sum())
    _, g = np.unique(group, return_inverse=True)
    n_groups = int(g.max()) + 1 if m else 0
    if m - n_groups < 1 or total <= m:
        return icc(k, n)
    p = k / n
    pg = np.bincount(g, weights=k) / np.bincount(g, weights=n)
    msb = float((n * (p - pg[g]) ** 2).sum()) / (m - n_groups)
    msw = float((n * p * (1 - p)).sum()) / (total - m)
    n0 = (total - float((n * n).sum()) / total) / max(m - 1, 1)
    den = msb + (n0 - 1) * msw
    return float(min(max((msb - msw) / den, 0.0), 0.999)) if den > 0 else 0.0


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
    A nurse who handles few units has too few doses for that comparison to be conclusive, and
    wards differ in waste by habit (ampoule sizes, doses), so a second comparison is made with
    her own colleagues: the same establishment, product and patient age band (≥ 5 colleagues),
    day by day (≥ 5 days with the product; the day is the unit, as doses of one shift share
    ampoules). Each day's excess waste is W − π·T (π = the colleagues' pooled share, T = units
    handled); her summed excess is compared with its variance under no difference, σ²·T (σ²
    from the colleagues' days) plus τ²·T² (τ² = the between-colleague variance of the share,
    pooled per product over all wards by the method of moments, as in a random-effects
    meta-analysis: habits differ beyond day-to-day chance). The z of every professional tested
    is centred and scaled on all of them (empirical null), and because waste is lumpy (now and
    then a whole ampoule) the tail of a candidate (z ≥ 3.5, excess ≥ 3 units) is computed
    exactly: her days drawn from her colleagues' days, by FFT convolution.
    Every professional × product × window of both comparisons is a test of the same
    hypothesis, so the p must survive one Benjamini–Hochberg (q = 5 %) over all of them.
    Where a professional can be compared with her own colleagues (she was tested by the
    same-ward comparison in some window), that comparison decides: the national one mixes
    every ward's habits (an ICU whose nurses waste the residue of each infusion they close
    beside theatres that give whole ampoules), and would flag a whole ward for its habit.
    Where she has colleagues too few for that test (a clinic of five nurses), a national
    outlier must still waste ≥ 3 units more than her colleagues' pooled share, and at least
    twice that share. The national comparison measures dose residues and has no model of lumps,
    so it leaves out whole units written off apart from her doses (no administration of the
    product by her within 12 hours) and witnessed by someone else: an ampoule dropped on the
    floor, recorded as the procedure asks. At a hospital of three nurses, two or three such
    breakages made a nurse who handled fifteen ampoules read as wasting 40 % of them. The
    same-ward comparison keeps them (its exact tail draws lumps from the colleagues' days), and
    standalone write-offs without an independent witness stay in both.
    """

    name = "waste_share"
    title = "Proporción de desecho atípica / Atypical waste share"
    tolerates = (
        "expired-lot disposal, pediatric wards (compared within their age band), "
        "professionals who handle few units (< 10), ward habits (colleagues of the same "
        "establishment; between-colleague variance; where she has >= 5 colleagues the "
        "national comparison is not used, with fewer she must exceed their pooled share by "
        ">= 3 units and 2x), lumpy waste such as a dropped ampoule "
        "(exact tail from the colleagues' days; in the national comparison, whole units "
        "written off apart from her doses with an independent witness are left out), and "
        "chance across every professional x window (Benjamini-Hochberg)."
    )
    subject_kind = "professional"
    topics = ("waste", "diversion")
    thresholds = {"robust z (logit share)": "≥ 3.5", "excess units": "≥ 3",
                  "units handled": "≥ 10", "peers": "≥ 8",
                  "same-ward test": "≥ 5 colleagues, ≥ 5 days; z ≥ 3.5 (empirical null, "
                                    "exact tail), excess ≥ 3 units",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all tests",
                  "excluded": "disposal of expired lots; professionals who administer none"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "peers")

    Z_MIN, MIN_UNITS, MIN_PEERS, MIN_EXCESS, SIGMA_FLOOR, Q = 3.5, 10.0, 8, 3.0, 0.35, 0.05

    WINDOW_DAYS, STEP_DAYS = 90, 30
    COLLEAGUE_RATIO = 2.0  # with < 5 colleagues, a national outlier must double their share
    APART_HOURS = 12  # a whole-unit waste this far from any of her doses is not a dose residue

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
        national = rows_all[~self._witnessed_apart(ctx, rows_all)]
        for w0, w1 in windows:
            rows = national[(f.t[national] >= w0) & (f.t[national] < w1)]
            for cand in self._scan(ctx, rows, ped):
                p = cand[0]
                if p not in best or cand[1] > best[p][1]:
                    best[p] = cand
        # Both comparisons (all colleagues of the product nationally, and colleagues of the same
        # establishment day by day) test the same hypothesis: one Benjamini–Hochberg family.
        self._ward_tested: set[int] = set()
        unit, unit_tests = self._unit_scan(ctx, rows_all, windows, ped)
        # Wards differ in waste by habit (residue of infusions closed on one shift, ampoule
        # sizes): where a professional can be compared with her own colleagues, that comparison
        # decides, and the national one (a mixture of every ward's habits) is not used.
        best = {p: c for p, c in best.items()
                if p not in self._ward_tested and self._above_own_colleagues(ctx, c)}
        keep = bh_keep([p_from_z(c[1]) for c in best.values()]
                       + [p_from_z(c["z"]) for c in unit.values()], self._tests + unit_tests, self.Q)
        unit = {p: c for (p, c), k in zip(unit.items(), keep[len(best):], strict=True) if k}
        best = {p: c for (p, c), k in zip(best.items(), keep[:len(best)], strict=True) if k}
        out = [self._unit_draft(ctx, c) for p, c in unit.items() if p not in best]
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

    def _witnessed_apart(self, ctx: DetectionContext, rows: np.ndarray) -> np.ndarray:
        """Mask of ``rows``: wastes of whole units witnessed by someone else, with no
        administration of the product by the same professional within ``APART_HOURS``."""
        f = ctx.frame
        out = np.zeros(len(rows), dtype=bool)
        is_w = f.is_type("waste")[rows]
        cand = np.flatnonzero(is_w & (f.qty[rows] >= 1) & (f.witness[rows] >= 0)
                              & (f.witness[rows] != f.professional[rows]))
        if len(cand) == 0:
            return out
        adm = rows[f.is_type("administer")[rows]]
        if len(adm) == 0:
            out[cand] = True
            return out
        t0 = int(f.t[rows].min())
        span = np.int64(1) << 33  # seconds: far beyond any window
        width = np.int64(len(f.prodv) + 1)

        def key(r: np.ndarray) -> np.ndarray:  # professional × product, then time
            who = f.professional[r].astype(np.int64) * width + f.product[r].astype(np.int64)
            return who * span + (f.t[r].astype(np.int64) - t0)

        key_a = np.sort(key(adm))
        w = rows[cand]
        key_w = key(w)
        pos = np.searchsorted(key_a, key_w)
        gap = np.full(len(w), np.iinfo(np.int64).max)
        for p in (pos - 1, pos):  # the nearest administrations before and after (same key)
            ok = (p >= 0) & (p < len(key_a))
            near = key_a[np.clip(p, 0, len(key_a) - 1)]
            same = ok & (near // span == key_w // span)
            gap = np.where(same, np.minimum(gap, np.abs(near - key_w)), gap)
        out[cand] = gap > self.APART_HOURS * 3600
        return out

    def _above_own_colleagues(self, ctx: DetectionContext, cand: tuple) -> bool:
        """A national outlier with a few colleagues (too few for the same-ward test) must
        still waste more than they do: a small clinic whose five nurses all waste the residue
        of each ampoule has a habit, not five diverters. True when she has no colleague who
        handled ≥ ``MIN_UNITS`` units of the product in the window, or her excess over their
        pooled share is ≥ ``MIN_EXCESS`` units and her share ≥ ``COLLEAGUE_RATIO`` × theirs
        (with so few colleagues their share is a rough estimate of the ward's habit, and
        colleagues of one ward differ by shift and patients: only a material difference
        counts)."""
        f = ctx.frame
        p, _, rows, inv, i, waste, total, prod = cand[:8]
        mine = rows[inv == i]
        same = np.isin(f.est[rows], np.unique(f.est[mine])) & (f.product[rows] == prod[i]) \
            & (f.professional[rows] != p) & (f.professional[rows] >= 0)
        col = rows[same]
        col_total = float(f.qty[col].sum())
        if col_total < self.MIN_UNITS:
            return True
        col_share = float(f.qty[col][f.is_type("waste")[col]].sum()) / col_total
        return (float(waste[i] - col_share * total[i]) >= self.MIN_EXCESS
                and waste[i] / total[i] >= self.COLLEAGUE_RATIO * col_share)

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

    # Same-unit test: colleagues of the same establishment and product, day by day.
    UNIT_MIN_PEERS, UNIT_MIN_DAYS, UNIT_Z, UNIT_Z_FLOOR = 5, 5, 3.5, 1.0

    def _unit_scan(self, ctx: DetectionContext, rows_all: np.ndarray,
                   windows: list[tuple[int, int]], ped: dict) -> tuple[dict[int, dict], int]:
        """Return, per professional, the strongest window of the day-by-day test against
        colleagues of the same establishment and product, and the number of tests made."""
        f = ctx.frame
        rows_all = rows_all[f.est[rows_all] >= 0]
        pediatric = np.array([p for p, b in ped.items() if b], dtype=np.int64)
        best: dict[int, dict] = {}
        tests = 0
        for w0, w1 in windows:
            rows = rows_all[(f.t[rows_all] >= w0) & (f.t[rows_all] < w1)]
            if len(rows) == 0:
                continue
            found, n = self._unit_window(ctx, rows, pediatric)
            tests += n
            for c in found:
                if c["p"] not in best or c["z"] > best[c["p"]]["z"]:
                    best[c["p"]] = c
        return best, tests

    def _unit_window(self, ctx: DetectionContext, rows: np.ndarray,
                     pediatric: np.ndarray) -> tuple[list[dict], int]:
        f = ctx.frame
        day = (f.t[rows] + LIMA_OFFSET_S) // DAY
        is_w = f.is_type("waste")[rows]
        qty = f.qty[rows]
        # Colleagues: the same establishment, product and patient age band.
        band = np.isin(f.professional[rows], pediatric).astype(np.int64)
        stratum = pair_key(pair_key(f.est[rows], f.product[rows]), band)
        # One cell per professional × day × stratum: the day is the unit (doses of one shift are
        # drawn from the same ampoules and are not independent of each other).
        cell = np.stack([stratum, f.professional[rows].astype(np.int64), day.astype(np.int64)], 1)
        cells, inv = np.unique(cell, axis=0, return_inverse=True)
        inv = inv.ravel()
        W = np.bincount(inv, weights=np.where(is_w, qty, 0.0), minlength=len(cells))
        T = np.bincount(inv, weights=qty, minlength=len(cells))
        # Per professional: Σ over her days of the excess waste W − π·T (π = her colleagues'
        # pooled share in the stratum), against its variance under no difference.
        S: dict[int, float] = {}
        V: dict[int, float] = {}
        ex: dict[int, float] = {}
        wsum: dict[int, float] = {}
        tsum: dict[int, float] = {}
        npeers: dict[int, int] = {}
        D: dict[int, int] = {}
        NUL: dict[int, list] = {}
        prod_of = dict(zip(stratum.tolist(), f.product[rows].tolist(), strict=True))
        strata = []
        # Habits differ between colleagues beyond day-to-day chance (shifts, patients): the
        # between-professional variance τ² of the waste share within a unit is estimated per
        # product, pooled over every unit (method of moments, as in a random-effects
        # meta-analysis), and added to each professional's variance, so a persistent small
        # difference is not read as evidence that grows with time.
        tau_num: dict[int, float] = {}
        tau_den: dict[int, float] = {}
        for st in np.unique(cells[:, 0]):
            idx = np.flatnonzero(cells[:, 0] == st)
            profs = cells[idx, 1]
            uprof = np.unique(profs)
            if len(uprof) < self.UNIT_MIN_PEERS + 1:
                continue
            pos = np.searchsorted(uprof, profs)
            Wq = np.bincount(pos, weights=W[idx], minlength=len(uprof))
            Tq = np.bincount(pos, weights=T[idx], minlength=len(uprof))
            pooled = W[idx].sum() / max(T[idx].sum(), 1e-9)
            s2 = max(float(((W[idx] - pooled * T[idx]) ** 2).sum() / max(T[idx].sum(), 1e-9)), 1e-6)
            q = Tq > 0
            e_q = Wq[q] / Tq[q]
            k = int(q.sum())
            if k > 1:
                g = int(prod_of[int(st)])
                tau_num[g] = tau_num.get(g, 0.0) + float(((e_q - e_q.mean()) ** 2).sum()
                                                         - (k - 1) / k * (s2 / Tq[q]).sum())
                tau_den[g] = tau_den.get(g, 0.0) + (k - 1)
            strata.append((int(st), idx, profs, uprof))
        for st, idx, profs, uprof in strata:
            tau2 = max(tau_num.get(int(prod_of[st]), 0.0) / max(tau_den.get(int(prod_of[st]), 1.0), 1.0), 0.0)
            for pr in uprof:
                mine, other = idx[profs == pr], idx[profs != pr]
                if len(mine) < 2:
                    continue
                pooled = W[other].sum() / max(T[other].sum(), 1e-9)
                # Score test: each day's excess waste r = W − π·T against the colleagues'
                # pooled share π, with var(r) = σ²·T estimated from the colleagues' own days.
                r_peer = W[other] - pooled * T[other]
                s2 = max(float((r_peer ** 2).sum() / max(T[other].sum(), 1e-9)), 1e-6)
                pr = int(pr)
                t_me = float(T[mine].sum())
                S[pr] = S.get(pr, 0.0) + float((W[mine] - pooled * T[mine]).sum())
                V[pr] = V.get(pr, 0.0) + s2 * t_me + tau2 * t_me ** 2
                NUL.setdefault(pr, []).append((r_peer, len(mine)))
                D[pr] = D.get(pr, 0) + len(mine)
                ex[pr] = ex.get(pr, 0.0) + float(W[mine].sum() - pooled * T[mine].sum())
                wsum[pr] = wsum.get(pr, 0.0) + float(W[mine].sum())
                tsum[pr] = tsum.get(pr, 0.0) + float(T[mine].sum())
                npeers[pr] = max(npeers.get(pr, 0), len(uprof) - 1)
        tested = [p for p in S if D[p] >= self.UNIT_MIN_DAYS and tsum[p] >= self.MIN_UNITS]
        if len(tested) < self.MIN_PEERS + 1:
            return [], 0
        self._ward_tested.update(tested)
        zr = np.array([S[p] / np.sqrt(V[p]) for p in tested])
        # Empirical null: habits differ between professionals (shifts, patient mix) more than
        # day-to-day chance says, so z is centred and scaled on every professional tested.
        med, sig = robust_center_scale(zr, self.UNIT_Z_FLOOR)
        out = []
        for p, z0 in zip(tested, zr, strict=True):
            z = float((z0 - med) / sig)
            if z >= self.UNIT_Z and ex[p] >= self.MIN_EXCESS:
                # Waste is lumpy (a whole ampoule now and then), so the normal tail is too thin
                # this far out: the p-value is exact for her days drawn from her colleagues'.
                z = min(z, float(stats.norm.isf(max(_sum_sf(NUL[p], S[p]), 1e-300))))
            if z >= self.UNIT_Z and ex[p] >= self.MIN_EXCESS:
                mine = rows[(f.professional[rows] == p)]
                out.append({"p": p, "z": z, "rows": mine, "excess": ex[p], "waste": wsum[p],
                            "total": tsum[p], "peers": npeers[p], "days": D[p]})
        return out, len(tested)

    def _unit_draft(self, ctx: DetectionContext, c: dict) -> AlertDraft:
        f = ctx.frame
        g = c["rows"]
        w = g[f.is_type("waste")[g]]
        pid = f.profv.name(c["p"])
        pval = p_from_z(c["z"])
        obs = c["waste"] / c["total"]
        expected = (c["waste"] - c["excess"]) / c["total"]
        wq = float(f.qty[w].sum())
        mme = float(ctx.row_mme[w].sum()) * c["excess"] / wq if wq > 0 else 0.0
        est0 = int(f.est[g[0]])
        # the presentations she wasted (the evidence and the English sentence name them)
        products = ", ".join(sorted({f.prodv.name(int(x)) for x in np.unique(f.product[w])}))
        summary = (f"{pid} desechó el {100 * obs:.0f} % de las unidades que manejó, día a día por "
                   f"encima de sus {c['peers']} colegas del mismo establecimiento y producto "
                   f"(esperado {100 * expected:.0f} %), un exceso de {fmt(c['excess'], 1)} unidades.")
        return self.draft(
            pid, int(f.t[g].min()), int(f.t[g].max()), strength_from_p(pval), mme, summary,
            {"metric": "daily waste share vs colleagues of the same establishment and product",
             "product_code": products or None,
             "test": "day-by-day excess over colleagues' share; exact tail, empirical null",
             "observed": obs, "expected": expected, "z": c["z"], "p_value": pval,
             "peers": c["peers"], "days": c["days"], "units_handled": c["total"],
             "units_wasted": c["waste"], "excess_units": c["excess"], **f.events(w)},
            department=ctx.prof_department(c["p"]) or ctx.est_department(est0),
            ubigeo=ctx.registry.est_ubigeo[est0],
        )


class DisposalShare(Detector):
    """An establishment that writes off (wastes or loses) a larger share of a presentation than
    establishments of the same kind.

    Per establishment × presentation (product) over the window — each presentation has its own
    stock and expiry, and a slow-selling strength can expire beside a fast one: units handled
    H = every recorded outflow (dispensed, administered, shipped, exported, wasted, lost);
    stock written off D = waste and loss rows that are not dose residue. Dose residue is left
    out — waste recorded by a professional who administers the same product at the same
    establishment (the rest of an ampoule after a dose, judged per professional by
    ``waste_share``), or a fraction of a unit wasted where the product is administered (a
    residue whose row names no professional) — so a hospital's anaesthesia residue is not read as disposal; what remains is what the
    pharmacy, the storekeeper or nobody in particular writes off: expired or damaged stock,
    losses. Disposal of a lot whose known ``expiry`` (stated on any movement of that lot) falls
    before the end of the month after the write-off is destruction of expired stock, the
    expected reason, and is left out too.

    Write-offs less than a week apart form one episode (a destruction recorded over a few
    days); the largest episode is removed from D and H (a box dropped once, a batch destroyed
    once is one event, not a habit) and at least 3 episodes are required. Share
    s = D ÷ H (never below 1 %: routine expiry and breakage), compared with the presentations of
    the same substance at establishments of the same kind (≥ 8 peers with ≥ 50 units handled;
    a presentation handled less is too slow-moving for a share to mean much): robust z
    of logit(s) against the peers' median/MAD (σ ≥ 0.75). Flagged when z ≥ 3.5, the excess
    over the peer median is ≥ 10 units and ≥ one month of the series' average use (a
    slow-moving outlet can see a whole box expire), and its p survives Benjamini–Hochberg
    (q = 5 %) over every series tested. The evidence adds what supports diversion behind
    declared waste: units of lots whose known expiry is more than 90 days after the write-off
    ("expired" stock that was not), and the share of write-offs signed by the most frequent
    witness.
    """

    name = "disposal_share"
    title = "Bajas de existencias por encima de pares / Stock written off above peers"
    tolerates = (
        "dose residue in hospitals (waste by professionals who administer the product, or a "
        "fraction of a unit, is judged per professional by waste_share), destruction of "
        "genuinely expired lots (known expiry before the end of the following month), a one-off "
        "breakage or batch destruction (the largest write-off episode is set aside), small or "
        "slow-moving outlets (>= 50 units handled, >= 3 episodes, excess >= 10 units and >= 1 "
        "month of use), and the habits of a kind of establishment (peers of the same kind)."
    )
    subject_kind = "establishment"
    topics = ("waste", "diversion")
    thresholds = {"robust z (logit share, σ ≥ 0.75)": "≥ 3.5", "share floor": "1 %",
                  "units handled": "≥ 50",
                  "write-off episodes (days < 7 apart merged)": "≥ 3, the largest set aside",
                  "excess": "≥ 10 units and ≥ 1 month of average use",
                  "peers of the same kind": "≥ 8",
                  "expired lot": "known expiry ≤ write-off day + 31 days (left out)",
                  "far from expiry (evidence)": "known expiry > write-off day + 90 days",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all series"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "peers",
                       "units_handled", "units_written_off", "excess_units", "episodes",
                       "largest_episode_units", "expired_lot_units", "far_from_expiry_units",
                       "top_witness", "top_witness_share")

    history_days = 0  # judges the lookback window only (lot expiries come from its own query)

    Z_MIN, MIN_UNITS, MIN_EPISODES, MIN_EXCESS, MIN_PEERS = 3.5, 50.0, 3, 10.0, 8
    SHARE_FLOOR, SIGMA_FLOOR, Q = 0.01, 0.75, 0.05
    MIN_MONTHS_USE = 1.0
    EXPIRED_DAYS, FAR_DAYS, EPISODE_DAYS = 31, 90, 7

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        from centinela.detect.frame import Vocab

        f, reg = ctx.frame, ctx.registry
        if f.n == 0:
            return []
        rows = np.flatnonzero(ctx.in_scope & (f.est >= 0) & (f.product >= 0) & (f.t <= ctx.now_t)
                              & f.is_type("dispense", "administer", "transfer_out", "export",
                                          "waste", "loss"))
        if len(rows) == 0:
            return []
        # Dose residue: waste by a professional who administers that product there.
        width_p = len(f.profv) + 1
        epk = pair_key(f.est[rows], f.product[rows])
        who = epk * width_p + (f.professional[rows].astype(np.int64) + 1)
        is_adm = f.is_type("administer")[rows]
        is_waste = f.is_type("waste")[rows]
        residue = is_waste & (f.professional[rows] >= 0) & np.isin(who, np.unique(who[is_adm]))
        # Stock is written off in whole units: a fraction of a unit wasted where the product is
        # administered is a dose residue even when the row names no professional.
        residue |= is_waste & (f.qty[rows] < 1) & np.isin(epk, np.unique(epk[is_adm]))
        off = f.is_type("waste", "loss")[rows] & ~residue
        lo, hi = self._lot_expiry(ctx, rows[off])
        day = ctx.row_day[rows[off]]
        expired = np.zeros(len(rows), dtype=bool)
        far = np.zeros(len(rows), dtype=bool)
        expired[off] = lo <= day + self.EXPIRED_DAYS
        far[off] = hi > day + self.FAR_DAYS  # every stated expiry of the lot is far
        far &= ~expired
        counted = off & ~expired
        subv = Vocab()
        sub_of_prod = subv.encode([s or "" for s in reg.prod_substance])
        # One series per establishment × presentation: each presentation has its own stock and
        # expiry (a slow-selling strength expires beside a fast one), and units are comparable.
        width = len(f.prodv) + 1
        series = f.est[rows].astype(np.int64) * width + f.product[rows]
        qty = f.qty[rows]  # units: one presentation per series
        uniq, inv = np.unique(series, return_inverse=True)
        H = np.bincount(inv, weights=qty, minlength=len(uniq))
        D = np.bincount(inv, weights=np.where(counted, qty, 0.0), minlength=len(uniq))
        # Write-off episodes of each series (write-off days less than a week apart: one
        # destruction recorded over a few days), and the largest one (set aside).
        big = np.zeros(len(uniq))
        ndays = np.zeros(len(uniq), dtype=np.int64)
        cpos = np.flatnonzero(counted)
        for g, pos in groups(inv[cpos], cpos):
            d_row = ctx.row_day[rows[pos]]
            udays, d_inv = np.unique(d_row, return_inverse=True)
            per_day = np.bincount(d_inv.ravel(), weights=qty[pos])
            episode = np.concatenate([[0], np.cumsum(np.diff(udays) >= self.EPISODE_DAYS)])
            per_episode = np.bincount(episode, weights=per_day)
            big[g] = float(per_episode.max())
            ndays[g] = len(per_episode)
        Dt, Ht = D - big, np.maximum(H - big, 1e-9)
        # Average monthly use of each series over the months it was active in the window.
        t_lo = np.full(len(uniq), np.iinfo(np.int64).max)
        t_hi = np.zeros(len(uniq), dtype=np.int64)
        np.minimum.at(t_lo, inv, f.t[rows])
        np.maximum.at(t_hi, inv, f.t[rows])
        monthly = (H - D) / np.maximum((t_hi - t_lo) / (30.4 * DAY), 1.0)
        share = np.clip(Dt / Ht, self.SHARE_FLOOR, 0.999)
        logit = np.log(share / (1 - share))
        est_of = uniq // width
        prod_of = uniq % width
        sub_of = sub_of_prod[prod_of] + 1  # substance code + 1: peers handle the same substance
        kinds = np.array([(reg.est_kind[int(e)] or "") if 0 <= e < len(reg.est_kind) else ""
                          for e in est_of])
        eligible = H >= self.MIN_UNITS
        cands, n_tests = [], 0
        for kind in np.unique(kinds[eligible]):
            for s in np.unique(sub_of[eligible & (kinds == kind)]):
                idx = np.flatnonzero(eligible & (kinds == kind) & (sub_of == s))
                if len(idx) < self.MIN_PEERS + 1:
                    continue
                n_tests += len(idx)
                med0, sig0 = robust_center_scale(logit[idx], self.SIGMA_FLOOR)
                for g in idx[((logit[idx] - med0) / sig0 >= self.Z_MIN * 0.8)
                             & (ndays[idx] >= self.MIN_EPISODES)]:
                    others = idx[idx != g]
                    z, med, _ = robust_z(float(logit[g]), logit[others], self.SIGMA_FLOOR)
                    med_share = float(1 / (1 + np.exp(-med)))
                    excess = float(Dt[g] - med_share * Ht[g])
                    if (z < self.Z_MIN or excess < self.MIN_EXCESS
                            or excess < self.MIN_MONTHS_USE * monthly[g]):
                        continue
                    cands.append((p_from_z(float(z)), int(g), float(z), med_share, others,
                                  excess))
        keep = bh_keep([c[0] for c in cands], n_tests, self.Q)
        out = []
        for (p, g, z, med_share, others, excess), k in zip(cands, keep, strict=True):
            if not k:
                continue
            mine = inv == g
            out.append(self._alert(ctx, rows, mine, counted, expired, far, int(est_of[g]),
                                   subv.name(int(sub_of[g]) - 1) or "",
                                   f.prodv.name(int(prod_of[g])) or "", z, p, med_share,
                                   share[others], float(share[g]), float(H[g]),
                                   float(D[g]), float(big[g]), int(ndays[g]), excess,
                                   str(kinds[g])))
        return out

    def _lot_expiry(self, ctx: DetectionContext, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the earliest and latest expiry (Lima day numbers; +inf / -inf when unknown)
        stated on any movement of each row's product × lot."""
        from sqlalchemy import func, select

        from centinela.detect.context import day_number
        from centinela.ledger.records import Movement

        f = ctx.frame
        lo = np.full(len(rows), np.inf)
        hi = np.full(len(rows), -np.inf)
        lots = sorted({f.lotv.names[int(c)] for c in f.lot[rows] if c >= 0})
        if not lots:
            return lo, hi
        found: dict[tuple[str | None, str | None], tuple[int, int]] = {}
        for k in range(0, len(lots), 500):
            chunk = lots[k:k + 500]
            stmt = (select(Movement.product_code, Movement.lot, func.min(Movement.expiry),
                           func.max(Movement.expiry))
                    .where(Movement.lot.in_(chunk), Movement.expiry.is_not(None))
                    .group_by(Movement.product_code, Movement.lot))
            for prod, lot, e0, e1 in ctx.session.execute(stmt):
                e0 = e0 if isinstance(e0, dt.date) else dt.date.fromisoformat(str(e0)[:10])
                e1 = e1 if isinstance(e1, dt.date) else dt.date.fromisoformat(str(e1)[:10])
                found[(prod, lot)] = (day_number(e0), day_number(e1))
        for i, r in enumerate(rows):
            key = (f.prodv.name(int(f.product[r])), f.lotv.name(int(f.lot[r])))
            if key in found:
                lo[i], hi[i] = found[key]
        return lo, hi

    def _alert(self, ctx, rows, mine, counted, expired, far, est, sub, product, z, p, med_share,
               peer_shares, obs, H, D, big, ndays, excess, kind) -> AlertDraft:
        f = ctx.frame
        name = f.estv.name(est)
        wrote = rows[mine & counted]
        wit = f.witness[wrote]
        named = wit[wit >= 0]
        top, top_share = None, 0.0
        if len(named):
            vals, cnt = np.unique(named, return_counts=True)
            top = f.profv.name(int(vals[np.argmax(cnt)]))
            top_share = float(cnt.max() / len(wrote))
        far_u = float(f.qty[rows[mine & far]].sum())
        exp_u = float(f.qty[rows[mine & expired]].sum())
        q_w = f.qty[wrote]
        mme_per_unit = float(ctx.row_mme[wrote].sum() / q_w.sum()) if q_w.sum() > 0 else 0.0
        summary = (f"{name} dio de baja (desecho o pérdida) el {100 * obs:.0f} % de las "
                   f"{fmt(H)} unidades de {product} ({sub}) que manejó, sin contar su mayor baja "
                   f"(mediana de {len(peer_shares)} establecimientos del mismo tipo: "
                   f"{100 * med_share:.1f} %), en {ndays} episodios de baja: un exceso de "
                   f"{fmt(excess, 1)} unidades.")
        if far_u > 0:
            summary += (f" {fmt(far_u, 1)} unidades dadas de baja eran de lotes que vencían más de "
                        f"{self.FAR_DAYS} días después.")
        if top is not None and top_share >= 0.8 and len(wrote) >= self.MIN_EPISODES:
            summary += f" El {100 * top_share:.0f} % de las bajas tuvo el mismo testigo ({top})."
        return self.draft(
            name, int(f.t[wrote].min()), int(f.t[wrote].max()), strength_from_p(p),
            excess * mme_per_unit, summary,
            {"metric": "units written off (waste and loss, not dose residue) ÷ units handled",
             "substance": sub, "product_code": product, "observed": obs, "expected": med_share,
             "peer_range": [float(np.percentile(peer_shares, 25)),
                            float(np.percentile(peer_shares, 75))],
             "percentile": percentile_of(obs, peer_shares), "z": z, "p_value": p,
             "peers": int(len(peer_shares)), "peer_group": kind, "units_handled": H,
             "units_written_off": D, "episodes": ndays,
             "largest_episode_units": big, "excess_units": excess,
             "expired_lot_units": exp_u, "far_from_expiry_units": far_u,
             "top_witness": top, "top_witness_share": round(top_share, 3),
             "unwitnessed": int((wit < 0).sum()), **f.events(wrote)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
        )
