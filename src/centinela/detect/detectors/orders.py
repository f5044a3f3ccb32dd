"""Suspicious orders (21 CFR 1301.74(b)) and purchases that outgrow reported use."""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import stats
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.frame import INBOUND, Vocab
from centinela.detect.scoring import (
    p_from_z,
    percentile_of,
    robust_center_scale,
    strength_from_p,
)
from centinela.detect.util import groups, month_bounds, month_index, month_label

OUTFLOW = ("dispense", "administer", "transfer_out", "export")


class _Monthly:
    """Monthly receipts (mg), receipt counts and use (mg) per establishment × substance."""

    def __init__(self, ctx: DetectionContext) -> None:
        f, reg = ctx.frame, ctx.registry
        self.subv = Vocab()
        sub_of_prod = self.subv.encode(reg.prod_substance)
        ok = (f.est >= 0) & (f.product >= 0) & (f.t <= ctx.now_t)
        rows = np.flatnonzero(ok & f.is_type(*INBOUND, *OUTFLOW))
        self.m0 = int(month_index(np.array([f.t[rows].min() if len(rows) else ctx.now_t]))[0])
        self.last = int(month_index(np.array([ctx.now_t]))[0]) - self.m0
        nm = self.last + 1
        sub = sub_of_prod[f.product[rows]]
        key = f.est[rows].astype(np.int64) * (len(self.subv) + 1) + sub
        self.keys, inv = np.unique(key, return_inverse=True)
        self.est = (self.keys // (len(self.subv) + 1)).astype(np.int64)
        self.sub = (self.keys % (len(self.subv) + 1)).astype(np.int64)
        mon = month_index(f.t[rows]) - self.m0
        cell = inv * nm + mon
        size = len(self.keys) * nm
        inbound = f.is_type(*INBOUND)[rows]
        mg = ctx.row_mg[rows]
        self.R = np.bincount(cell[inbound], weights=mg[inbound], minlength=size).reshape(-1, nm)
        self.N = np.bincount(cell[inbound], minlength=size).reshape(-1, nm).astype(float)
        self.U = np.bincount(cell[~inbound], weights=mg[~inbound], minlength=size).reshape(-1, nm)
        active = (self.R > 0) | (self.U > 0)
        self.first = np.where(active.any(axis=1), active.argmax(axis=1), nm)
        self.rows, self.inv, self.mon, self.inbound = rows, inv, mon, inbound
        self.mme_per_mg = np.divide(ctx.row_mme[rows], mg, out=np.zeros(len(rows)), where=mg > 0)


class SuspiciousOrder(Detector):
    """Orders of unusual size or frequency that the establishment's own use does not explain.

    Per establishment × substance (mg, so switching presentations is not a change), month by month:

    * size: receipts ≥ 2× the trailing 12-month mean (≥ 3 months of history) and above the
      maximum of the prior 6 months (21 CFR 1301.74(b); DEA's common screening rules); or
    * frequency: number of orders ≥ 2× the trailing mean and Poisson tail < 1e-3;

    and not explained by use: over that month and up to five more (what is known at ``now``), the
    extra quantity ordered (above the trailing mean) minus the extra quantity used (above its own
    trailing mean) is at least half the extra ordered and at least one typical month. An
    established pattern is required (≥ 3 of the prior months with receipts). A stock-up followed
    by smaller orders, or a new ward whose use grows with its orders, is therefore not flagged.
    Because every establishment × substance × month is screened, the month must also be in the
    3.5-sigma tail (p < 2.3e-4) of the series' own log-normal history (σ ≥ 0.35) or, for
    frequency, of the Poisson count of orders. Consecutive months merge.
    """

    name = "suspicious_order"
    title = "Pedido sospechoso / Suspicious order"
    subject_kind = "establishment"
    topics = ("diversion", "suspicious_order")
    thresholds = {"size vs trailing 12-month mean": "≥ 2×", "vs prior 6-month max": ">",
                  "frequency": "≥ 2× and Poisson p < 1e-3", "history": "≥ 3 months",
                  "unexplained extra over ≤ 6 months": "≥ ½ of the extra ordered and ≥ 1 typical month",
                  "tail probability": "p < 2.3e-4 (z ≥ 3.5)"}
    evidence_fields = ("orders", "criteria", "observed", "expected", "prior_6_month_max",
                       "use_ratio", "peer_percentile")

    HORIZON, P_MAX = 6, 2.3e-4

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        if ctx.frame.n == 0:
            return []
        mo = _Monthly(ctx)
        R, N, U = mo.R, mo.N, mo.U
        nm = mo.last + 1
        cR, cN, cU, cZ = (np.concatenate([np.zeros((len(R), 1)), np.cumsum(x, axis=1)], axis=1)
                          for x in (R, N, U, (R > 0).astype(float)))
        start_m = int(month_index(np.array([ctx.start_t]))[0]) - mo.m0
        flagged: dict[int, list[dict]] = {}
        for m in range(max(start_m, 0), nm):
            a = np.maximum(mo.first, m - 12)
            n_prior = m - a
            idx = np.arange(len(R))
            # An established ordering pattern: ≥ 3 prior months, ≥ 3 of them with receipts.
            ok = (n_prior >= 3) & ((cZ[idx, m] - cZ[idx, np.minimum(a, m)]) >= 3)
            if not ok.any():
                continue
            n_safe = np.maximum(n_prior, 1)
            meanR = (cR[idx, m] - cR[idx, np.minimum(a, m)]) / n_safe
            meanN = (cN[idx, m] - cN[idx, np.minimum(a, m)]) / n_safe
            meanU = (cU[idx, m] - cU[idx, np.minimum(a, m)]) / n_safe
            max6 = R[:, max(0, m - 6):m].max(axis=1) if m > 0 else np.zeros(len(R))
            Rm, Nm = R[:, m], N[:, m]
            size = ok & (Rm > 0) & (Rm >= 2 * meanR) & (Rm > max6)
            p_freq = stats.poisson.sf(Nm - 1, np.maximum(meanN, 1e-9))
            freq = ok & (Nm >= np.maximum(3, 2 * meanN)) & (p_freq < 1e-3)
            # Horizon: this month and up to five more (what is known at ``now``). Extra ordered
            # vs extra used over it, each against its own trailing mean.
            h = min(self.HORIZON - 1, mo.last - m)
            sumR = cR[:, m + h + 1] - cR[:, m]
            sumU = cU[:, m + h + 1] - cU[:, m]
            extra_r = sumR - meanR * (h + 1)
            extra_u = np.maximum(sumU - meanU * (h + 1), 0.0)
            unexplained = ((extra_r - extra_u) >= np.maximum(0.5 * extra_r, meanR)) & (extra_r > 0)
            hit = np.flatnonzero((size | freq) & unexplained)
            for g in hit:
                prior = R[g, a[g]:m]
                logs = np.log(prior[prior > 0]) if (prior > 0).sum() >= 2 else np.log([meanR[g]])
                sd = max(float(np.std(logs)), 0.35)
                z = (np.log(Rm[g]) - float(np.mean(logs))) / sd if Rm[g] > 0 else 0.0
                p = p_from_z(z) if size[g] else 1.0
                if freq[g]:
                    p = min(p, float(p_freq[g]))
                if p >= self.P_MAX:
                    continue  # thousands of series-months are screened: keep the 3.5-sigma tail
                flagged.setdefault(int(mo.est[g]), []).append({
                    "g": int(g), "m": m, "p": p, "size": bool(size[g]), "freq": bool(freq[g]),
                    "R": float(Rm[g]), "meanR": float(meanR[g]), "max6": float(max6[g]),
                    "N": float(Nm[g]), "meanN": float(meanN[g]),
                    "use_ratio": float((sumU[g] / (h + 1)) / meanU[g]) if meanU[g] > 0 else None,
                    "horizon_months": h + 1,
                    "excess": float(extra_r[g] - extra_u[g]),
                })
        return [d for est, items in flagged.items() for d in self._episodes(ctx, mo, est, items)]

    def _episodes(self, ctx: DetectionContext, mo: _Monthly, est: int, items: list[dict]):
        items.sort(key=lambda x: x["m"])
        episodes: list[list[dict]] = [[items[0]]]
        for it in items[1:]:
            if it["m"] - episodes[-1][-1]["m"] <= 1:
                episodes[-1].append(it)
            else:
                episodes.append([it])
        f = ctx.frame
        kind = ctx.registry.est_kind[est]
        for ep in episodes:
            ms = sorted({it["m"] for it in ep})
            t0, _ = month_bounds(mo.m0 + ms[0])
            _, t1 = month_bounds(mo.m0 + ms[-1])
            gs = {it["g"] for it in ep}
            sel = np.isin(mo.inv, list(gs)) & mo.inbound & np.isin(mo.mon, ms)
            rows = mo.rows[sel]
            best = min(ep, key=lambda x: x["p"])
            excess_mg = sum(max(it["excess"], 0.0) for it in ep)
            mme_per_mg = float(np.median(mo.mme_per_mg[sel])) if sel.any() else 0.0
            # Peers: same kind of establishment, same substance and month.
            g = best["g"]
            if not hasattr(mo, "kinds"):
                mo.kinds = np.array([ctx.registry.est_kind[int(e)] or "" for e in mo.est])
            peers = np.flatnonzero((mo.sub == mo.sub[g]) & (mo.est != est) & (mo.kinds == (kind or "")))
            peer_vals = mo.R[peers, best["m"]]
            peer_vals = peer_vals[peer_vals > 0]
            criteria = sorted({c for it in ep for c in ("size", "freq") if it[c]})
            sub = mo.subv.name(int(mo.sub[g]))
            name = f.estv.name(est)
            ratio = best["R"] / best["meanR"] if best["meanR"] > 0 else float("inf")
            summary = (f"{name} recibió {fmt(best['R'], 2)} mg de {sub} en "
                       f"{month_label(mo.m0 + best['m'])}, {fmt(ratio, 1)} veces su promedio de 12 "
                       f"meses, sin un aumento equivalente de su dispensación o uso.")
            yield self.draft(
                name, t0, t1, strength_from_p(best["p"]), excess_mg * mme_per_mg, summary,
                {"metric": "mg received per month", "substance": sub, "criteria": criteria,
                 "observed": best["R"], "expected": best["meanR"], "ratio": ratio,
                 "prior_6_month_max": best["max6"], "orders": best["N"],
                 "expected_orders": best["meanN"], "use_ratio": best["use_ratio"],
                 "p_value": best["p"], "excess_mg": excess_mg,
                 "months": [month_label(mo.m0 + m) for m in ms],
                 "peer_percentile": percentile_of(best["R"], peer_vals) if len(peer_vals) else None,
                 "peer_range": [float(np.percentile(peer_vals, 25)), float(np.percentile(peer_vals, 75))]
                 if len(peer_vals) else None,
                 "peers": int(len(peer_vals)), **f.events(rows)},
                department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
            )


class PurchasesOutgrowUse(Detector):
    """Receipts that outgrow reported use over the window, out of proportion to peers.

    Per establishment × substance over the window (first 30 days of activity excluded, when an
    opening stock is bought): R = mg received, U = mg dispensed, administered, shipped or
    exported, ΔS = change of counted stock (last − first count) when counts exist. Ratio
    R ÷ (U + ΔS) against establishments of the same kind (robust z on log scale, σ ≥ 0.25, the
    spread that ordinary stock policies produce over a year):
    flagged when z ≥ 3.5, ratio ≥ 1.25 and the unexplained mg ≥ 2 months of average use.
    """

    name = "purchases_outgrow_use"
    title = "Compras que superan el uso / Purchases outgrowing use"
    subject_kind = "establishment"
    topics = ("diversion", "suspicious_order")
    thresholds = {"robust z (log ratio, σ ≥ 0.25)": "≥ 3.5", "ratio": "≥ 1.25",
                  "unexplained": "≥ 2 months of average use", "peers": "≥ 8"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "received_mg",
                       "used_mg", "stock_change_mg")

    Z_MIN, MIN_RATIO, MIN_PEERS, SIGMA_FLOOR = 3.5, 1.25, 8, 0.25

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        if f.n == 0:
            return []
        mo = _Monthly(ctx)
        first_t = np.full(len(mo.keys), np.iinfo(np.int64).max)
        np.minimum.at(first_t, mo.inv, f.t[mo.rows])
        t_row = f.t[mo.rows]
        use_row = (t_row >= ctx.start_t) & (t_row >= first_t[mo.inv] + 30 * DAY)
        mg = ctx.row_mg[mo.rows]
        R = np.bincount(mo.inv[use_row & mo.inbound], weights=mg[use_row & mo.inbound],
                        minlength=len(mo.keys))
        U = np.bincount(mo.inv[use_row & ~mo.inbound], weights=mg[use_row & ~mo.inbound],
                        minlength=len(mo.keys))
        months = np.maximum((ctx.now_t - np.maximum(first_t + 30 * DAY, ctx.start_t)) / (30.4 * DAY), 0)
        dS = self._stock_change(ctx, mo)
        denom = np.maximum(U + dS, 1e-9)
        ratio = np.where((R > 0) & (U > 0), R / denom, np.nan)
        lr = np.log(np.where(ratio > 0, ratio, np.nan))
        kinds = np.array([reg.est_kind[int(e)] or "" for e in mo.est])
        out = []
        for kind in np.unique(kinds):
            for s in np.unique(mo.sub):
                idx = np.flatnonzero((kinds == kind) & (mo.sub == s) & ~np.isnan(lr) & (months >= 3))
                if len(idx) < self.MIN_PEERS + 1:
                    continue
                med, sigma = robust_center_scale(lr[idx], self.SIGMA_FLOOR)
                for g in idx[(lr[idx] - med) / sigma >= self.Z_MIN]:
                    gap = R[g] - U[g] - dS[g]
                    monthly_use = U[g] / max(months[g], 1.0)
                    if ratio[g] < self.MIN_RATIO or gap < 2 * monthly_use:
                        continue
                    out.append(self._alert(ctx, mo, int(g), idx, ratio, lr, med, sigma, R, U, dS, gap))
        return out

    def _stock_change(self, ctx: DetectionContext, mo: _Monthly) -> np.ndarray:
        """Return counted stock change (mg) per establishment × substance in the window."""
        f = ctx.frame
        counts = np.flatnonzero(f.is_type("count") & (f.t >= ctx.start_t) & (f.est >= 0)
                                & (f.product >= 0))
        out = np.zeros(len(mo.keys))
        if len(counts) == 0:
            return out
        sub = mo.subv.encode(ctx.registry.prod_substance)[f.product[counts]]
        key = f.est[counts].astype(np.int64) * (len(mo.subv) + 1) + sub
        pos = np.searchsorted(mo.keys, key)
        valid = (pos < len(mo.keys)) & (mo.keys[np.minimum(pos, len(mo.keys) - 1)] == key)
        pk = f.est[counts].astype(np.int64) * (len(f.prodv) + 1) + f.product[counts]
        for _, sel in groups(pk[valid], counts[valid]):
            if len(sel) < 2:
                continue
            sel = sel[np.argsort(f.t[sel], kind="stable")]
            g = pos[np.searchsorted(counts, sel[0])]
            out[g] += (f.qty[sel[-1]] - f.qty[sel[0]]) * ctx.registry.prod_mg[f.product[sel[0]]]
        return out

    def _alert(self, ctx, mo, g, idx, ratio, lr, med, sigma, R, U, dS, gap) -> AlertDraft:
        f = ctx.frame
        est = int(mo.est[g])
        name = f.estv.name(est)
        sub = mo.subv.name(int(mo.sub[g]))
        z = float((lr[g] - med) / sigma)
        peers = ratio[idx[idx != g]]
        sel = (mo.inv == g) & mo.inbound & (f.t[mo.rows] >= ctx.start_t)
        rows = mo.rows[sel]
        mme_per_mg = float(np.median(mo.mme_per_mg[sel])) if sel.any() else 0.0
        t0 = max(int(f.t[rows].min()) if len(rows) else ctx.start_t, ctx.start_t)
        summary = (f"{name} recibió {fmt(R[g], 2)} mg de {sub} pero solo registró {fmt(U[g], 2)} mg de "
                   f"uso o salidas (razón {ratio[g]:.2f}, mediana de pares {np.exp(med):.2f}).")
        return self.draft(
            name, t0, ctx.now_t, strength_from_p(p_from_z(z)), gap * mme_per_mg, summary,
            {"metric": "received ÷ (used + counted stock change)", "substance": sub,
             "observed": float(ratio[g]), "expected": float(np.exp(med)),
             "peer_range": [float(np.percentile(peers, 25)), float(np.percentile(peers, 75))],
             "percentile": percentile_of(float(ratio[g]), peers), "z": z,
             "p_value": p_from_z(z), "peers": int(len(peers)),
             "peer_group": ctx.registry.est_kind[est], "received_mg": float(R[g]),
             "used_mg": float(U[g]), "stock_change_mg": float(dS[g]), "unexplained_mg": float(gap),
             **f.events(rows)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
        )
