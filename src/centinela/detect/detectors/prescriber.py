"""Prescriber volume against peers of the same specialty (and department) and own history."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import (
    bh_keep,
    p_from_z,
    percentile_of,
    poisson_sf,
    robust_center_scale,
    strength_from_p,
)

WINDOW_DAYS, STEP_DAYS, N_WINDOWS = 90, 30, 10


class PrescriberVolume(Detector):
    """Opioid volume (MME) of a prescriber over rolling 90-day windows, compared like with like.

    Peers: prescribers of the same specialty in the same department (≥ 8 of them), else the same
    specialty nationally, else all prescribers. Statistics on the log scale with median/MAD
    (σ ≥ 0.25). A prescriber is flagged when either

    * **intensity**: MME per patient treated is ≥ 3.5 robust z above peers, also with the
      prescriber's heaviest patient left out (one cancer patient on patches in a small panel is
      one clinical case, not a prescribing pattern; the p is that of the leave-one-out z), with
      ≥ 3 patients and a total volume above the peers' 75th percentile — a big practice with
      normal doses per patient (oncology institute, palliative team) is not flagged for being
      big; or
    * **volume and change**: total MME ≥ 3.5 robust z above peers AND ≥ 2× the prescriber's own
      rate before the window (≥ 60 days of history), Poisson tail of the prescription count
      < 1e-4 — big and suddenly bigger.

    The strongest window is reported, one alert per prescriber. Every prescriber × window is a
    test, so the finding's p (the weaker of the two tails on the volume-and-change path) must also
    survive Benjamini–Hochberg (q = 5 %) over all the tests of the run: 3.5 sigma is about 1 in
    4 300 one-sided, which a national year of ~10 000 prescriber-windows exceeds by chance.
    """

    name = "prescriber_volume"
    title = "Volumen atípico de prescriptor / Atypical prescriber volume"
    tolerates = (
        "big practices with normal doses per patient (oncology institutes, palliative teams),"
        " small panels whose intensity is one heavy patient (leave-one-out),"
        " specialty differences (peers of the same specialty and department), and chance over"
        " rolling windows (Benjamini-Hochberg)."
    )
    subject_kind = "professional"
    topics = ("diversion", "prescribing")
    thresholds = {"robust z (log scale)": "≥ 3.5", "patients": "≥ 3", "peers": "≥ 8",
                  "own-history ratio": "≥ 2", "history Poisson tail": "< 1e-4",
                  "window": f"{WINDOW_DAYS} days, step {STEP_DAYS}",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all prescriber-windows"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "peer_group",
                       "patients", "history_ratio")

    Z_MIN, MIN_PEERS, MIN_PATIENTS, SIGMA_FLOOR, HIST_RATIO, HIST_P, Q = 3.5, 8, 3, 0.25, 2.0, 1e-4, 0.05

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        rows = np.flatnonzero(f.is_type("dispense", "administer") & (f.prescriber >= 0)
                              & (f.product >= 0))
        if len(rows) == 0:
            return []
        rows = rows[np.argsort(f.t[rows], kind="stable")]
        t = f.t[rows]
        pres, pat, mme = f.prescriber[rows], f.patient[rows], ctx.row_mme[rows]
        nprof = len(f.profv)
        first_seen = np.full(nprof, np.iinfo(np.int64).max)
        np.minimum.at(first_seen, pres, t)
        # History before the frame (database aggregates): MME, prescriptions, first seen.
        old_mme, old_rx, t_first = self._older(ctx, nprof, first_seen)
        t_first = min(t_first, int(t[0]))
        spec = np.array([hash(s or "") for s in reg.prof_specialty[:nprof]] + [0] * (nprof - len(reg.prof_specialty)))
        dept = np.array([hash(d or "") for d in reg.prof_dept[:nprof]] + [0] * (nprof - len(reg.prof_dept)))
        width = int(pat.max(initial=0)) + 2
        best: dict[int, tuple] = {}
        n_tests = 0
        for k in range(N_WINDOWS):
            end = ctx.now_t - k * STEP_DAYS * DAY
            start = end - WINDOW_DAYS * DAY
            if start < t_first - DAY or end <= ctx.start_t:
                break
            a, b = np.searchsorted(t, [start, end])
            if b - a == 0:
                continue
            wp, wpat, wm = pres[a:b], pat[a:b], mme[a:b]
            tot = np.bincount(wp, weights=wm, minlength=nprof)
            nrx = np.bincount(wp, minlength=nprof)
            upairs = np.unique(wp.astype(np.int64) * width + (wpat + 1))
            upairs = upairs[upairs % width != 0]
            npat = np.bincount((upairs // width).astype(np.int64), minlength=nprof)
            # Own history: everything before the window start (prefix sums over time-sorted rows).
            hist_mme = np.bincount(pres[:a], weights=mme[:a], minlength=nprof) + old_mme
            hist_rx = np.bincount(pres[:a], minlength=nprof) + old_rx
            hist_days = np.maximum((start - first_seen) / DAY, 0.0)
            active = np.flatnonzero((nrx > 0) & (tot > 0))
            per_pat = np.where(npat > 0, tot / np.maximum(npat, 1), np.nan)
            lt, lp = np.log(tot[active]), np.log(per_pat[active])
            for judged, members, label in self._peer_groups(active, spec, dept, reg):
                n_tests += len(judged)
                pt, pp = lt[members], lp[members]
                ok_pp = ~np.isnan(pp)
                mt, st = robust_center_scale(pt, self.SIGMA_FLOOR)
                mp, sp = robust_center_scale(pp[ok_pp], self.SIGMA_FLOOR) if ok_pp.sum() else (0.0, 1.0)
                p75 = float(np.percentile(pt, 75))
                zmax = np.maximum((lt[judged] - mt) / st,
                                  np.nan_to_num((lp[judged] - mp) / sp, nan=-np.inf))
                for m in judged[zmax >= self.Z_MIN]:
                    c = int(active[m])
                    zt = (lt[m] - mt) / st
                    zp = (lp[m] - mp) / sp if not np.isnan(lp[m]) else -np.inf
                    if max(zt, zp) < self.Z_MIN:
                        continue
                    found = []
                    if zp >= self.Z_MIN and npat[c] >= self.MIN_PATIENTS and lt[m] > p75:
                        # Not one patient's regimen: the intensity must hold with the
                        # prescriber's heaviest patient left out (a single cancer patient on
                        # patches in a small panel is one clinical case, not a pattern).
                        mine = (wp == c) & (wpat >= 0)
                        top = float(np.bincount(wpat[mine], weights=wm[mine]).max()) if mine.any() else 0.0
                        loo = (tot[c] - top) / max(npat[c] - 1, 1)
                        z_loo = (np.log(loo) - mp) / sp if loo > 0 else -np.inf
                        if z_loo >= self.Z_MIN:
                            found.append(("intensity", p_from_z(z_loo)))
                    if zt >= self.Z_MIN and hist_days[c] >= 60:
                        rate = hist_mme[c] / hist_days[c]
                        ratio = (tot[c] / WINDOW_DAYS) / rate if rate > 0 else np.inf
                        p_hist = poisson_sf(nrx[c], hist_rx[c] / hist_days[c] * WINDOW_DAYS)
                        if ratio >= self.HIST_RATIO and p_hist < self.HIST_P:
                            found.append(("volume_change", max(p_from_z(zt), p_hist)))
                    if not found:
                        continue
                    path, p = min(found, key=lambda x: x[1])
                    cand = {
                        "p": p, "path": path, "start": start, "end": end, "a": a, "b": b,
                        "zt": zt, "zp": zp, "tot": tot[c], "npat": int(npat[c]), "nrx": int(nrx[c]),
                        "per_pat": per_pat[c], "peer_pp": np.exp(mp), "peer_tot": np.exp(mt),
                        "peer_pp_all": np.exp(pp[ok_pp]), "peer_tot_all": np.exp(pt),
                        "peers": len(members) - 1, "label": label,
                        "hist_ratio": (tot[c] / WINDOW_DAYS) / (hist_mme[c] / hist_days[c])
                        if hist_days[c] >= 60 and hist_mme[c] > 0 else None,
                    }
                    if c not in best or p < best[c]["p"]:
                        best[c] = cand
        # Every prescriber × window is a test: Benjamini–Hochberg over all of them.
        keep = bh_keep([v["p"] for v in best.values()], n_tests, self.Q)
        return [self._alert(ctx, c, v, rows) for (c, v), k in zip(best.items(), keep, strict=True) if k]

    @staticmethod
    def _older(ctx: DetectionContext, nprof: int,
               first_seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Add the history before the frame: return each prescriber's MME and prescription
        count there, lower ``first_seen`` to it, and return the earliest time of all."""
        old_mme, old_rx = np.zeros(nprof), np.zeros(nprof, dtype=np.int64)
        hist = ctx.history
        if hist is None:
            return old_mme, old_rx, np.iinfo(np.int64).max
        f, reg = ctx.frame, ctx.registry
        g = hist.grouped(("prescriber", "product"), ("dispense", "administer"))
        pres = g.codes("prescriber", f.profv)
        prod = g.codes("product", f.prodv)
        ok = (pres >= 0) & (prod >= 0)
        if not ok.any():
            return old_mme, old_rx, np.iinfo(np.int64).max
        t_first = int(g.first_t[ok].min())
        # Prescribers seen only before the frame prescribe in no window: not judged.
        keep = ok & (pres < nprof)
        pres, prod = pres[keep], prod[keep]
        known = prod < len(reg.prod_mme)
        mme = np.where(known, g.qty[keep] * reg.prod_mme[np.where(known, prod, 0)], 0.0)
        old_mme = np.bincount(pres, weights=mme, minlength=nprof)
        old_rx = np.bincount(pres, weights=g.rows[keep], minlength=nprof).astype(np.int64)
        np.minimum.at(first_seen, pres, g.first_t[keep])
        return old_mme, old_rx, t_first

    def _peer_groups(self, active, spec, dept, reg):
        """Yield (positions judged, peer positions, label): specialty × department, else
        specialty nationally, else every prescriber."""
        sp, dp = spec[active], dept[active]
        used = np.zeros(len(active), bool)
        keys = sp * 1_000_003 + dp
        for key in np.unique(keys):
            m = np.flatnonzero(keys == key)
            if len(m) >= self.MIN_PEERS + 1:
                used[m] = True
                c = int(active[m[0]])
                label = f"{reg.prof_specialty[c] or 'sin especialidad'} · departamento {reg.prof_dept[c]}"
                yield m, m, label
        for key in np.unique(sp[~used]):
            peers = np.flatnonzero(sp == key)
            judged = np.flatnonzero((sp == key) & ~used)
            if len(peers) >= self.MIN_PEERS + 1:
                used[judged] = True
                label = f"{reg.prof_specialty[int(active[judged[0]])] or 'sin especialidad'} · nacional"
                yield judged, peers, label
        rest = np.flatnonzero(~used)
        if len(rest) and len(active) >= self.MIN_PEERS + 1:
            yield rest, np.arange(len(active)), "todos los prescriptores"

    def _alert(self, ctx: DetectionContext, c: int, v: dict, rows: np.ndarray) -> AlertDraft:
        f = ctx.frame
        pid = f.profv.name(c)
        window_rows = rows[v["a"]:v["b"]]
        mine = window_rows[f.prescriber[window_rows] == c]
        if v["path"] == "intensity":
            metric, obs, exp, peer_vals, z = ("MME per patient", v["per_pat"], v["peer_pp"],
                                             v["peer_pp_all"], v["zp"])
            summary = (f"{pid} prescribió {fmt(v['per_pat'])} MME por paciente en 90 días "
                       f"({v['npat']} pacientes), frente a una mediana de {fmt(v['peer_pp'])} entre "
                       f"sus pares ({v['label']}).")
        else:
            metric, obs, exp, peer_vals, z = ("total MME", v["tot"], v["peer_tot"],
                                             v["peer_tot_all"], v["zt"])
            summary = (f"{pid} prescribió {fmt(v['tot'])} MME en 90 días, {fmt(v['hist_ratio'] or 0)} "
                       f"veces su propio ritmo previo y muy por encima de sus pares ({v['label']}).")
        est = f.est[mine]
        est0 = int(np.bincount(est[est >= 0]).argmax()) if (est >= 0).any() else -1
        # Excess volume over what a typical peer would prescribe to the same patients.
        excess = max(v["tot"] - v["peer_pp"] * v["npat"], v["tot"] - v["peer_tot"], 0.0)
        return self.draft(
            pid, v["start"], v["end"], strength_from_p(v["p"]), excess, summary,
            {"metric": metric, "criterion": v["path"], "observed": float(obs), "expected": float(exp),
             "peer_range": [float(np.percentile(peer_vals, 25)), float(np.percentile(peer_vals, 75))],
             "percentile": percentile_of(float(obs), peer_vals), "z": float(z), "p_value": v["p"],
             "peer_group": v["label"], "peers": v["peers"], "window_days": WINDOW_DAYS,
             "window": [day_str(v["start"]), day_str(v["end"])],
             "total_mme": float(v["tot"]), "patients": v["npat"], "prescriptions": v["nrx"],
             "mme_per_patient": float(v["per_pat"]), "history_ratio": v["hist_ratio"],
             **f.events(mine)},
            department=ctx.prof_department(c) or ctx.est_department(est0),
            ubigeo=ctx.registry.est_ubigeo[est0] if est0 >= 0 else None,
        )
