"""Prescriber volume against peers of the same specialty, setting (and department) and own history."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import (
    bh_keep,
    calibrate,
    p_from_z,
    percentile_of,
    poisson_sf,
    robust_center_scale,
    strength_from_p,
)
from centinela.ledger.mme import EXEMPT_SPECIALTIES
from centinela.ledger.records import Movement

WINDOW_DAYS, STEP_DAYS, N_WINDOWS = 90, 30, 10
# Settings of a prescriber's rows: outpatient dispensing (a supply taken home: long-term or
# unknown length), acute outpatient prescriptions (≤ SHORT_DAYS of supply) and in-hospital
# administration (a dose given by a nurse on the ward or in theatre, its residue wasted).
DISPENSE, ADMINISTER, SHORT, NSET = 0, 1, 2, 3
SHORT_DAYS = 7  # an acute prescription (post-operative, injury): ≤ 7 days of supply
SETTING_LABEL = ("dispensación", "administración hospitalaria",
                 f"dispensación ≤ {SHORT_DAYS} días")
LOW_SCORE = 39.0  # the top of the low band (severity_for: medium from 40)
MEDIUM_SCORE = 64.0  # the top of the medium band (high from 65)


class PrescriberVolume(Detector):
    """Opioid volume (MME) of a prescriber over rolling 90-day windows, compared like with like.

    **Setting**: a prescriber's rows are judged in three settings apart, each against peers in
    the same setting: outpatient dispensing of long-term or unknown-length supplies
    (``dispense``), acute outpatient prescriptions (``dispense`` of ≤ 7 days of supply: pain
    after an injury or surgery) and in-hospital administration (``administer`` rows naming the
    prescriber: one dose per row, given by a nurse, its residue wasted). A surgeon's discharge
    prescriptions (60-200 MME per patient) are not compared with the per-dose ward
    administrations (~20 MME) of surgeons who prescribe only inside their hospital, nor a
    traumatologist's acute prescriptions with a few chronic patients' monthly patches.

    Peers: prescribers of the same specialty and setting in the same department (≥ 8 of them;
    a prescriber with no known department has none), else the same specialty and setting
    nationally, else every prescriber of that setting. Statistics on the log scale with
    median/MAD (σ ≥ 0.25). A prescriber is flagged when

    * **intensity**: MME per patient treated is ≥ 3.5 robust z above peers, also with the
      prescriber's heaviest tenth of patients (at least one) left out (one cancer patient on
      patches in a small panel, a few chronic patients among many, are clinical cases, not a
      prescribing pattern; the p is that of the trimmed z), with ≥ 3 patients and a total
      volume above the peers' 75th percentile — a big practice with normal doses per patient
      (oncology institute, palliative team) is not flagged for being big; or
    * **volume and change**: total MME ≥ 3.5 robust z above peers AND ≥ 2× the prescriber's own
      rate in that setting before the window (≥ 60 days of history), Poisson tail of the
      prescription count < 1e-4 — big and suddenly bigger (a general practitioner grown from
      8 to 250 chronic patients a month is 4 robust z above peers whose practice sizes vary
      threefold per z: the growth is the evidence, the size its materiality); or
    * **escalation**: the same sudden growth (≥ 2× own rate, Poisson tail < 1e-4) with MME per
      patient ≥ 3.5 robust z above peers over ≥ 10 patients — heavy per patient and suddenly
      bigger, where peers' practice sizes vary too much for a total to stand out (the p is the
      product of the two tails: the dose against peers and the count against the
      prescriber's own past are separate questions); or
    * **acute quantity**: the prescriber's acute prescriptions (≤ 7 days) hold a median ≥ 2×
      the quantity that all prescribers write for the same product in acute prescriptions,
      over ≥ 10 of them, the mean of their log quantities ≥ 3.5 standard errors above the
      product's median (pooled over ≥ 30 prescriptions of ≥ 9 prescribers) — the same presentation
      for the same purpose, whatever the specialty (a surgeon giving 20-60 morphine tablets
      at discharge where 6-20 is usual).

    In-hospital administration whose intensity is stable is graded **low** at most: each dose
    is given on a ward or in theatre with its residue wasted before a witness, and a high
    dose per patient that has not changed (a cardiac anaesthesiologist's 1.5-4 mg of fentanyl
    per case; the registry's specialty cannot say "cardiac") is a kind of surgery, not a
    pattern of diversion. So is the intensity of an oncology or palliative-care prescriber
    (``ledger.mme.EXEMPT_SPECIALTIES``): cancer and palliative care are outside the dose
    guidelines' scope (CDC 2022), and a panel on high but stable doses is the care, not a
    pattern. Either is graded as any finding when the prescriber's MME per patient is ≥ 2×
    their own before the window (≥ 60 days of it) over ≥ 10 patients, and on the change paths
    — for cancer and palliative care at **medium** at most: a panel titrated up as the disease
    advances, or a service taking new patients, is growth worth a look, not a diversion
    finding to rank first.

    Peers share a specialty; a prescriber with none registered is compared with the other
    unspecialized prescribers who mostly (two thirds of their MME) use the same presentation,
    when nine or more do nationally (an intensivist's 10 mL infusion ampoules against a GP's
    2 mL ones is a difference of practice, not of behaviour).

    The strongest window is reported, one alert per prescriber. Every prescriber × setting ×
    window is a test, so the finding's p (on volume and change in outpatient dispensing, as on
    escalation, the product of its two tails: the size against peers and the growth of the
    prescriber's own panel are separate questions; for in-hospital administration, whose
    volume follows the ward's census, the weaker of the two) must
    also survive Benjamini–Hochberg (q = 5 %) over all the tests of the run: 3.5 sigma is about
    1 in 4 300 one-sided, which a national year of ~10 000 prescriber-windows exceeds by
    chance.
    """

    name = "prescriber_volume"
    title = "Volumen atípico de prescriptor / Atypical prescriber volume"
    tolerates = (
        "big practices with normal doses per patient (oncology institutes, palliative teams),"
        " high but stable doses per patient in cancer and palliative care (low at most),"
        " panels whose intensity is a few heavy patients (the heaviest tenth left out),"
        " specialty and setting differences (peers of the same specialty, setting -"
        " long-term or acute outpatient dispensing, in-hospital administration - and department;"
        " a department with few peers falls back to national peers), stable high-dose in-hospital"
        " administration (cardiac anaesthesia: low at most), and chance over rolling windows"
        " (Benjamini-Hochberg)."
    )
    subject_kind = "professional"
    topics = ("diversion", "prescribing")
    thresholds = {"robust z (log scale)": "≥ 3.5", "patients": "≥ 3", "peers": "≥ 8",
                  "intensity trimmed of": "the heaviest tenth of patients (≥ 1)",
                  "own-history ratio": "≥ 2", "history Poisson tail": "< 1e-4",
                  "escalation": "≥ 10 patients",
                  "acute quantity": "≤ 7 days of supply; ≥ 10 prescriptions; median ≥ 2× the product's",
                  "stable in-hospital administration": "low at most (unless ≥ 2× own MME per patient, ≥ 10 patients)",
                  "window": f"{WINDOW_DAYS} days, step {STEP_DAYS}",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all prescriber-windows"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "peer_group",
                       "setting", "patients", "history_ratio", "own_intensity_ratio")

    Z_MIN, MIN_PEERS, MIN_PATIENTS, SIGMA_FLOOR, HIST_RATIO, HIST_P, Q = 3.5, 8, 3, 0.25, 2.0, 1e-4, 0.05
    SHORT_MIN, SHORT_RATIO, SHORT_POOL = 10, 2.0, 30
    HIST_DAYS, TRIM, ESCALATION_PATIENTS = 60, 0.10, 10

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        rows = np.flatnonzero(f.is_type("dispense", "administer") & (f.prescriber >= 0)
                              & (f.product >= 0))
        if len(rows) == 0:
            return []
        rows = rows[np.argsort(f.t[rows], kind="stable")]
        t = f.t[rows]
        # A unit is one prescriber in one setting: NSET * prescriber + setting.
        ds = f.days_supply[rows]
        short = f.is_type("dispense")[rows] & (ds > 0) & (ds <= SHORT_DAYS)
        unit = f.prescriber[rows].astype(np.int64) * NSET + np.where(
            f.is_type("administer")[rows], ADMINISTER, np.where(short, SHORT, DISPENSE))
        pat, mme = f.patient[rows], ctx.row_mme[rows]
        nprof = len(f.profv)
        nunit = NSET * nprof
        first_seen = np.full(nunit, np.iinfo(np.int64).max)
        np.minimum.at(first_seen, unit, t)
        # History before the frame (database aggregates): MME, prescriptions, first seen.
        old_mme, old_rx, t_first = self._older(ctx, nprof, first_seen)
        t_first = min(t_first, int(t[0]))
        prof_of = np.arange(nunit) // NSET
        # Small integer codes (0: none) for specialty and department, per unit.
        spec_names = [reg.prof_specialty[c] if c < len(reg.prof_specialty) else None
                      for c in range(nprof)]
        exempt = [(x or "") in EXEMPT_SPECIALTIES for x in spec_names]
        dept_names = [reg.prof_dept[c] if c < len(reg.prof_dept) else None for c in range(nprof)]
        spec_code: dict[str, int] = {}
        dept_code: dict[str, int] = {}
        spec = np.array([spec_code.setdefault(x or "", len(spec_code)) for x in spec_names],
                        dtype=np.int64)[prof_of]
        pseudo = self._by_presentation(ctx, rows, unit, mme, spec, spec_code.get("", -1), nunit,
                                       spec_code)
        dept = np.array([dept_code.setdefault(x, len(dept_code) + 1) if x else 0
                         for x in dept_names], dtype=np.int64)[prof_of]
        setting = np.arange(nunit) % NSET
        short_row = short & (f.qty[rows] > 0)
        width = int(pat.max(initial=0)) + 2
        best: dict[int, dict] = {}
        n_tests = 0
        for k in range(N_WINDOWS):
            end = ctx.now_t - k * STEP_DAYS * DAY
            start = end - WINDOW_DAYS * DAY
            if start < t_first - DAY or end <= ctx.start_t:
                break
            a, b = np.searchsorted(t, [start, end])
            if b - a == 0:
                continue
            wp, wpat, wm = unit[a:b], pat[a:b], mme[a:b]
            tot = np.bincount(wp, weights=wm, minlength=nunit)
            nrx = np.bincount(wp, minlength=nunit)
            upairs = np.unique(wp * width + (wpat + 1))
            upairs = upairs[upairs % width != 0]
            npat = np.bincount((upairs // width).astype(np.int64), minlength=nunit)
            # Own history: everything before the window start (prefix sums over time-sorted rows).
            hist_mme = np.bincount(unit[:a], weights=mme[:a], minlength=nunit) + old_mme
            hist_rx = np.bincount(unit[:a], minlength=nunit) + old_rx
            hist_days = np.maximum((start - first_seen) / DAY, 0.0)
            active = np.flatnonzero((nrx > 0) & (tot > 0))
            per_pat = np.where(npat > 0, tot / np.maximum(npat, 1), np.nan)
            lt, lp = np.log(tot[active]), np.log(per_pat[active])
            win = {"start": start, "end": end, "a": a, "b": b, "tot": tot, "npat": npat, "nrx": nrx,
                   "per_pat": per_pat}
            for judged, members, label in self._peer_groups(active, spec, dept, setting, reg,
                                                            dept_names, pseudo):
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
                    found = []
                    if zp >= self.Z_MIN and npat[c] >= self.MIN_PATIENTS and lt[m] > p75:
                        # Not a few patients' regimens: the intensity must hold with the
                        # prescriber's heaviest tenth of patients (at least one) left out (a
                        # cancer patient on patches in a small panel, a few chronic patients
                        # among many, are clinical cases, not a pattern).
                        mine = (wp == c) & (wpat >= 0)
                        drop = max(1, int(np.ceil(npat[c] * self.TRIM)))
                        per = np.sort(np.bincount(wpat[mine], weights=wm[mine]))[::-1] if mine.any() else np.zeros(1)
                        top = float(per[:drop].sum())
                        loo = (tot[c] - top) / max(npat[c] - drop, 1)
                        z_loo = (np.log(loo) - mp) / sp if loo > 0 else -np.inf
                        if z_loo >= self.Z_MIN:
                            found.append(("intensity", p_from_z(z_loo)))
                    if hist_days[c] >= self.HIST_DAYS:
                        rate = hist_mme[c] / hist_days[c]
                        ratio = (tot[c] / WINDOW_DAYS) / rate if rate > 0 else np.inf
                        p_hist = poisson_sf(nrx[c], hist_rx[c] / hist_days[c] * WINDOW_DAYS)
                        if ratio >= self.HIST_RATIO and p_hist < self.HIST_P:
                            # Big and suddenly bigger; or heavy per patient, over many
                            # patients, and suddenly bigger (an escalating practice among
                            # peers whose practice sizes vary too much for its size to stand out).
                            if zt >= self.Z_MIN:
                                # Outpatient: as on the escalation path, the size against
                                # peers and the growth of the prescriber's own panel are
                                # separate questions, the chance of both is the product of
                                # their tails. In-hospital administration follows the ward's
                                # census (beds, season), not the prescriber's own choice: both
                                # tails must hold on their own (the weaker is the p).
                                p_vc = (max(p_from_z(zt), p_hist) if c % NSET == ADMINISTER
                                        else p_from_z(zt) * p_hist)
                                found.append(("volume_change", p_vc))
                            elif zp >= self.Z_MIN and npat[c] >= self.ESCALATION_PATIENTS:
                                # Two separate questions (the dose per patient against peers,
                                # the count against the prescriber's own past): the chance of
                                # both is the product of their tails.
                                found.append(("escalation", p_from_z(zp) * p_hist))
                    if not found:
                        continue
                    path, p = min(found, key=lambda x: x[1])
                    own = None
                    # Stable in-hospital administration, and cancer or palliative care (outside
                    # the dose guidelines' scope: high doses per patient are the care), are
                    # graded low at most on intensity alone; growth is graded as usual.
                    stable_kind = ("administer" if c % NSET == ADMINISTER
                                   else "palliative" if exempt[c // NSET] else None)
                    if path == "intensity" and stable_kind:
                        own = self._own_intensity(c, unit[:a], pat[:a], mme[:a], t[:a], start,
                                                  per_pat[c])
                    cand = {
                        **win, "p": p, "path": path, "zt": zt, "zp": zp, "own_ratio": own,
                        "stable_kind": stable_kind,
                        "capped": path == "intensity" and stable_kind is not None and not (
                            own is not None and own >= self.HIST_RATIO
                            and npat[c] >= self.ESCALATION_PATIENTS),
                        # Growth in cancer or palliative care (a panel titrated up as the
                        # disease advances, a service taking new patients) is looked at, but
                        # not ranked with diversion: medium at most.
                        "capped_medium": path in ("volume_change", "escalation")
                        and bool(exempt[c // NSET]),
                        "peer_pp": np.exp(mp), "peer_tot": np.exp(mt),
                        "peer_pp_all": np.exp(pp[ok_pp]), "peer_tot_all": np.exp(pt),
                        "peers": len(members) - 1, "label": label,
                        "hist_ratio": (tot[c] / WINDOW_DAYS) / (hist_mme[c] / hist_days[c])
                        if hist_days[c] >= self.HIST_DAYS and hist_mme[c] > 0 else None,
                    }
                    self._keep(best, c, cand)
            n_tests += self._acute_quantity(best, win, rows[a:b], unit[a:b], wm, short_row[a:b], f)
        # Every prescriber × setting × window is a test: Benjamini–Hochberg over all of them.
        keep = bh_keep([v["p"] for v in best.values()], n_tests, self.Q)
        return [self._alert(ctx, c, v, rows, unit) for (c, v), k in zip(best.items(), keep, strict=True) if k]

    @staticmethod
    def _keep(best: dict[int, dict], c: int, cand: dict) -> None:
        """Keep the strongest finding of each prescriber (over settings and windows; a graded
        finding before one capped at low)."""
        prof = c // NSET
        rank = (bool(cand.get("capped")), cand["p"])
        if prof not in best or rank < (bool(best[prof].get("capped")), best[prof]["p"]):
            best[prof] = {**cand, "unit": c}

    def _own_intensity(self, c: int, unit: np.ndarray, pat: np.ndarray, mme: np.ndarray,
                       t: np.ndarray, start: int, per_pat: float) -> float | None:
        """Return the unit's MME per patient in the window over its own before the window
        (None with < 60 days of that history)."""
        mine = unit == c
        if not mine.any() or (start - int(t[mine].min())) / DAY < self.HIST_DAYS:
            return None
        p = pat[mine]
        n = len(np.unique(p[p >= 0])) or 1
        before = float(mme[mine].sum()) / n
        return float(per_pat / before) if before > 0 else None

    def _acute_quantity(self, best: dict[int, dict], win: dict, wrows: np.ndarray,
                        wunit: np.ndarray, wmme: np.ndarray, short: np.ndarray, f) -> int:
        """The acute-quantity path over one window: every acute outpatient prescription (≤ 7
        days), its log quantity against all acute prescriptions of the same product; return
        the number of prescribers judged."""
        if short.sum() < self.SHORT_POOL:
            return 0
        sr, su, smme = wrows[short], wunit[short], wmme[short]
        prod, lq = f.product[sr], np.log(f.qty[sr])
        std = np.full(len(sr), np.nan)  # (log q - product median) / product sd
        ratio = np.full(len(sr), np.nan)  # q / product median
        for p in np.unique(prod):
            m = prod == p
            if m.sum() < self.SHORT_POOL or len(np.unique(su[m])) < self.MIN_PEERS + 1:
                continue
            med = float(np.median(lq[m]))
            sd = max(float(np.std(lq[m])), self.SIGMA_FLOOR)
            std[m] = (lq[m] - med) / sd
            ratio[m] = np.exp(lq[m] - med)
        ok = ~np.isnan(std)
        if not ok.any():
            return 0
        su, std, ratio, smme = su[ok], std[ok], ratio[ok], smme[ok]
        units, inv, n = np.unique(su, return_inverse=True, return_counts=True)
        judged = np.flatnonzero(n >= self.SHORT_MIN)
        mean = np.bincount(inv, weights=std) / n
        for j in judged:
            z = float(mean[j] * np.sqrt(n[j]))
            mine = inv == j
            eff = float(np.median(ratio[mine]))
            if z < self.Z_MIN or eff < self.SHORT_RATIO:
                continue
            c = int(units[j])
            cand = {**win, "p": p_from_z(z), "path": "acute_quantity", "zt": -np.inf, "zp": z,
                    "short_ratio": eff, "short_n": int(n[j]),
                    "short_excess": float((smme[mine] * (1 - 1 / ratio[mine])).sum()),
                    "peer_ratio_all": ratio[~mine], "peers": len(units) - 1,
                    "label": f"todos los prescriptores · {SETTING_LABEL[SHORT]}",
                    "hist_ratio": None, "peer_pp": float("nan"), "peer_tot": float("nan")}
            self._keep(best, c, cand)
        return len(judged)

    @staticmethod
    def _older(ctx: DetectionContext, nprof: int,
               first_seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Add the history before the frame: return each unit's (prescriber × setting) MME and
        prescription count there, lower ``first_seen`` to it, and return the earliest time of
        all."""
        nunit = NSET * nprof
        old_mme, old_rx = np.zeros(nunit), np.zeros(nunit, dtype=np.int64)
        hist = ctx.history
        if hist is None:
            return old_mme, old_rx, np.iinfo(np.int64).max
        f, reg = ctx.frame, ctx.registry
        ds = Movement.days_supply
        short = and_(Movement.event_type == "dispense", ds > 0, ds <= SHORT_DAYS)
        other = or_(Movement.event_type != "dispense", ds.is_(None), ds <= 0, ds > SHORT_DAYS)
        t_first = np.iinfo(np.int64).max
        for cond, is_short in ((other, False), (short, True)):
            g = hist.grouped(("prescriber", "product", "event_type"), ("dispense", "administer"),
                             where=cond)
            pres = g.codes("prescriber", f.profv)
            prod = g.codes("product", f.prodv)
            ok = (pres >= 0) & (prod >= 0)
            if not ok.any():
                continue
            t_first = min(t_first, int(g.first_t[ok].min()))
            # Prescribers seen only before the frame prescribe in no window: not judged.
            keep = ok & (pres < nprof)
            adm = np.array([e == "administer" for e in g.keys["event_type"]], dtype=bool)[keep]
            st = np.where(adm, ADMINISTER, SHORT if is_short else DISPENSE)
            u, prod = pres[keep].astype(np.int64) * NSET + st, prod[keep]
            known = prod < len(reg.prod_mme)
            mme = np.where(known, g.qty[keep] * reg.prod_mme[np.where(known, prod, 0)], 0.0)
            old_mme += np.bincount(u, weights=mme, minlength=nunit)
            old_rx += np.bincount(u, weights=g.rows[keep], minlength=nunit).astype(np.int64)
            np.minimum.at(first_seen, u, g.first_t[keep])
        return old_mme, old_rx, t_first

    def _by_presentation(self, ctx: DetectionContext, rows: np.ndarray, unit: np.ndarray,
                         mme: np.ndarray, spec: np.ndarray, none_code: int, nunit: int,
                         spec_code: dict[str, int]) -> dict[int, str]:
        """Prescribers with no registered specialty, grouped by what they use: a unit whose
        MME is mostly one presentation is compared with the other unspecialized units of that
        presentation (an intensivist's 10 mL infusion ampoules are not a GP's 2 mL ones), when
        there are enough of them nationally; ``spec`` is changed in place. Returns the label
        of each new group's code."""
        if none_code < 0:
            return {}
        f = ctx.frame
        nprod = len(f.prodv) + 1
        prod = f.product[rows].astype(np.int64)
        plain = spec[unit] == none_code
        if not plain.any():
            return {}
        w = np.bincount(unit[plain] * nprod + prod[plain], weights=mme[plain],
                        minlength=nunit * nprod).reshape(nunit, nprod)
        total = w.sum(axis=1)
        top = w.argmax(axis=1)
        # "Mostly": at least two thirds of the unit's MME in one presentation.
        mostly = (spec == none_code) & (total > 0) & (w[np.arange(nunit), top] >= 2 / 3 * total)
        key = top * NSET + np.arange(nunit) % NSET
        counts = np.bincount(key[mostly], minlength=nprod * NSET)
        labels: dict[int, str] = {}
        for u in np.flatnonzero(mostly & (counts[key] >= self.MIN_PEERS + 1)):
            name = f"sin especialidad · usa sobre todo {f.prodv.name(int(top[u]))}"
            code = spec_code.setdefault(name, len(spec_code))
            labels[code] = name
            spec[u] = code
        return labels

    def _peer_groups(self, active, spec, dept, setting, reg, dept_names, pseudo=None):
        """Yield (positions judged, peer positions, label): specialty × setting × department
        (a known one), else specialty × setting nationally, else every prescriber of the
        setting. ``pseudo``: labels of the groups of unspecialized prescribers by the
        presentation they mostly use (``_by_presentation``)."""
        sp, dp, st = spec[active], dept[active], setting[active]
        used = np.zeros(len(active), bool)
        pseudo = pseudo or {}

        def spec_name(i: int) -> str:
            return (pseudo.get(int(sp[i])) or reg.prof_specialty[int(active[i]) // NSET]
                    or "sin especialidad")

        keys = (sp * 1_000_003 + dp) * NSET + st
        for key in np.unique(keys[dp != 0]):
            m = np.flatnonzero(keys == key)
            if len(m) >= self.MIN_PEERS + 1:
                used[m] = True
                c = int(active[m[0]])
                label = (f"{spec_name(m[0])} · {SETTING_LABEL[c % NSET]} · departamento "
                         f"{dept_names[c // NSET]}")
                yield m, m, label
        keys = sp * NSET + st
        for key in np.unique(keys[~used]):
            peers = np.flatnonzero(keys == key)
            judged = np.flatnonzero((keys == key) & ~used)
            if len(peers) >= self.MIN_PEERS + 1:
                used[judged] = True
                label = (f"{spec_name(judged[0])} · {SETTING_LABEL[int(active[judged[0]]) % NSET]}"
                         " · nacional")
                yield judged, peers, label
        for s in (DISPENSE, ADMINISTER, SHORT):
            rest = np.flatnonzero(~used & (st == s))
            peers = np.flatnonzero(st == s)
            if len(rest) and len(peers) >= self.MIN_PEERS + 1:
                yield rest, peers, f"todos los prescriptores · {SETTING_LABEL[s]}"

    def _alert(self, ctx: DetectionContext, c: int, v: dict, rows: np.ndarray,
               unit: np.ndarray) -> AlertDraft:
        f = ctx.frame
        u = v["unit"]
        pid = f.profv.name(c)
        setting = SETTING_LABEL[u % NSET]
        mine = rows[v["a"]:v["b"]][unit[v["a"]:v["b"]] == u]
        tot, npat, nrx, per_pat = v["tot"][u], int(v["npat"][u]), int(v["nrx"][u]), v["per_pat"][u]
        if v["path"] == "intensity":
            metric, obs, exp, peer_vals, z = ("MME per patient", per_pat, v["peer_pp"],
                                             v["peer_pp_all"], v["zp"])
            summary = (f"{pid} prescribió {fmt(per_pat)} MME por paciente en 90 días "
                       f"({npat} pacientes, {setting}), frente a una mediana de "
                       f"{fmt(v['peer_pp'])} entre sus pares ({v['label']}).")
            excess = max(tot - v["peer_pp"] * npat, tot - v["peer_tot"], 0.0)
        elif v["path"] == "acute_quantity":
            metric, obs, exp, peer_vals, z = ("quantity per short-supply prescription (× the "
                                             "product's median)", v["short_ratio"], 1.0,
                                             v["peer_ratio_all"], v["zp"])
            summary = (f"{pid} recetó en 90 días {v['short_n']} dispensaciones agudas "
                       f"(≤ {SHORT_DAYS} días) con una mediana de {fmt(v['short_ratio'])} veces "
                       f"la cantidad habitual del mismo producto ({npat} pacientes).")
            excess = v["short_excess"]
        else:
            metric, obs, exp, peer_vals, z = ("total MME", tot, v["peer_tot"],
                                             v["peer_tot_all"], v["zt"])
            if v["path"] == "escalation":
                metric, obs, exp, peer_vals, z = ("MME per patient", per_pat, v["peer_pp"],
                                                 v["peer_pp_all"], v["zp"])
            summary = (f"{pid} prescribió {fmt(tot)} MME en 90 días ({setting}, "
                       f"{fmt(per_pat)} por paciente, {npat} pacientes), "
                       f"{fmt(v['hist_ratio'] or 0)} veces su propio ritmo previo y muy por "
                       f"encima de sus pares en "
                       f"{'MME por paciente' if v['path'] == 'escalation' else 'volumen total'} "
                       f"({v['label']}).")
            excess = max(tot - v["peer_pp"] * npat, tot - v["peer_tot"], 0.0)
        score = None
        if v.get("capped"):
            # Stable in-hospital administration: a notice, graded low at most.
            score = min(calibrate(strength_from_p(v["p"]), excess)[0], LOW_SCORE)
            summary += (" Administración hospitalaria estable (no supera el doble de su propia "
                        "intensidad previa): aviso de baja prioridad." if v.get("stable_kind")
                        == "administer" else
                        " Cuidados oncológicos o paliativos con dosis por paciente estable (no "
                        "supera el doble de su propia intensidad previa): aviso de baja "
                        "prioridad.")
        elif v.get("capped_medium"):
            score = min(calibrate(strength_from_p(v["p"]), excess)[0], MEDIUM_SCORE)
            summary += (" Cuidados oncológicos o paliativos: el crecimiento puede ser la titulación "
                        "de dosis o nuevos pacientes del servicio; revisar, prioridad media.")
        est = f.est[mine]
        est0 = int(np.bincount(est[est >= 0]).argmax()) if (est >= 0).any() else -1
        # Where the window's supply was handed out: one pharmacy far from the prescriber's
        # department filling most of it is what forged prescriptions in a real doctor's name
        # look like (the pharmacy, not the doctor, may be the subject to visit).
        mme_rows = ctx.row_mme[mine]
        top_share = (float(mme_rows[est == est0].sum() / mme_rows.sum())
                     if est0 >= 0 and mme_rows.sum() > 0 else None)
        home, there = ctx.prof_department(c), ctx.est_department(est0) if est0 >= 0 else None
        # Run at a day's end, a window's start falls on a day's last second: the alert's window
        # is shown from the next second, the first of its first whole day (not "9 March,
        # 23:59"); a movement at that very second is the only one this moves out.
        opens = v["start"] + 1
        return self.draft(
            pid, opens, v["end"], strength_from_p(v["p"]), excess, summary,
            {"metric": metric, "criterion": v["path"], "observed": float(obs), "expected": float(exp),
             "peer_range": [float(np.percentile(peer_vals, 25)), float(np.percentile(peer_vals, 75))],
             "percentile": percentile_of(float(obs), peer_vals), "z": float(z), "p_value": v["p"],
             "peer_group": v["label"], "peers": v["peers"], "window_days": WINDOW_DAYS,
             "setting": ("dispense", "administer", "dispense_short")[u % NSET],
             "window": [day_str(opens), day_str(v["end"])],
             "total_mme": float(tot), "patients": npat, "prescriptions": nrx,
             "mme_per_patient": float(per_pat), "history_ratio": v["hist_ratio"],
             "own_intensity_ratio": v.get("own_ratio"), "capped_low": bool(v.get("capped")),
             "capped_medium": bool(v.get("capped_medium")),
             "establishment_id": f.estv.name(est0) if est0 >= 0 else None,
             "top_establishment_share": None if top_share is None else round(top_share, 3),
             "outside_department": bool(home and there and home != there),
             **f.events(mine)},
            department=ctx.prof_department(c) or ctx.est_department(est0),
            ubigeo=ctx.registry.est_ubigeo[est0] if est0 >= 0 else None, score=score,
        )
