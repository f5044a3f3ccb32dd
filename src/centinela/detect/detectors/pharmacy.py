"""A dispensing outlet's patient mix: the red flags of a prescription mill."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext, lima_day
from centinela.detect.scoring import bh_keep, binom_sf, percentile_of, poisson_sf
from centinela.detect.util import prescriber_exempt
from centinela.lib.clock import LIMA_OFFSET_S

WINDOW_DAYS, STEP_DAYS, N_WINDOWS = 90, 30, 10
NAIVE_DAYS = 120  # no opioid dispensed or administered to the patient in the 120 days before
FOLLOW_DAYS = 45  # ... and none in the 45 days after: a single fill, no history
SHORT_DAYS = 7  # an acute supply (post-operative, injury) is not a chronic-strength fill
CHRONIC_UNIT_MME = 30.0  # an oral unit of ≥ 30 mg of oral morphine (morphine 30 mg, methadone)
CHRONIC_FILL_MME = 900.0  # or a fill of a month at 30 MME a day, whatever the strength
RETAIL = ("pharmacy", "drugstore")
# Lima Metropolitana and Callao are one urban area: a Callao pharmacy filling a Lima
# physician's prescription is next door, not far away.
AREA = {"07": "15"}
LOW_SCORE = 39.0


def _area(dept: str | None) -> str | None:
    if not dept:
        return None
    return AREA.get(dept, dept)


class PharmacyPatientMix(Detector):
    """A dispensing outlet whose patient mix shows the red flags of a prescription mill.

    The red flags are those pharmacists and prescription-monitoring programmes are taught
    (DEA "corresponding responsibility", PDMP pharmacy reports): many high-strength opioid
    prescriptions for patients who appear once and never again, written by one or a few
    prescribers, far from the pharmacy, often in identical quantities, appearing suddenly.

    A **one-off chronic-strength fill** is an outpatient ``dispense`` of a long-acting or
    high-strength opioid — a transdermal patch (indicated only for opioid-tolerant patients),
    an oral unit of ≥ 30 MME (morphine 30 mg, methadone) or ≥ 900 MME in the fill (a month at
    30 MME a day), not a supply of ≤ 7 days —
    to a patient who received no opioid anywhere (dispensed or administered, any
    establishment) in the 120 days before and none in the 45 days after. A fill is judged only
    once its 120 days before lie in the movements read (no history can only be said of a
    look-back that was seen) and once its patient has come back or 45 days have passed.

    **Core test**: over rolling 90-day windows, the outlet's count of one-off chronic-strength
    fills among its fills (binomial tail) against the base rate of its peers of the same kind
    (pharmacy, drugstore, clinic, hospital; retail outlets pooled, then every outlet, when a
    kind has < 8 peers with ≥ 10 fills): the peers' median share (the outlet itself left out;
    a median, so that one busy mill does not raise its kind's base rate), at least 5 %. It
    needs ≥ 10 fills, ≥ 8 one-off fills, a share ≥ 25 % (a mill can hide in a busy honest
    practice) and ≥ 2× the base rate, and must survive Benjamini–Hochberg (q = 5 %) over every
    outlet-window tested. The strongest window is kept, one alert per outlet.

    **A mill in a busy honest outlet**: when the outlet's share does not stand out, each of its
    prescribers in the window is tested apart: ≥ 8 one-off fills that are ≥ 80 % of that
    prescriber's fills there (and ≥ 2× the base rate), oncology and palliative prescribers left
    out (their new patients may not come back), against the same base rate; every such pair
    counts as a test for Benjamini–Hochberg. The alert is still the outlet's, naming the pair.

    **Supporting red flags**, over the one-off fills of that window:

    * concentration — ≥ 60 % written by the top 3 prescribers (≥ 5 with a prescriber);
    * prescriber distance — ≥ 50 % of those with a known prescriber department written by a
      prescriber of another department (Lima and Callao are one area; ≥ 5 known);
    * patient distance — ≥ 50 % of those with a known patient district for patients of
      another department (≥ 5 known);
    * uniformity — ≥ 50 % share one product and one quantity;
    * onset — the outlet's one-off fills change to a higher rate at one point (the change point
      of a Poisson rate maximising the likelihood ratio), ≥ 3× its rate before that point
      (≥ 45 days of own, observed history before it; Poisson tail < 1e-3).

    Graded (medium and above) only with ≥ 2 supporting flags, at least one of them distance or
    onset (concentration and uniform quantities alone are a small outlet next to one doctor's
    office). One supporting flag: a low notice. None: no alert. Severity grows with what went
    through the pattern since its onset (a change point on the outlet's one-off fills): score
    = 40 + 50 × the mean of log-scaled patients (8 → 0, 80 → 1) and MME (3 000 → 0,
    150 000 → 1). The window is the pattern's onset to its last one-off fill; the evidence
    names the prescribers with their share and department.

    Legitimate look-alikes: a pharmacy by a cancer institute (few oncologists, patients from
    everywhere, but repeat fills), a pharmacy beside a hospital (one-off patients on short
    supplies from local surgeons), a new pharmacy (no history, ordinary patients), a rural
    botica with one doctor (one local prescriber, repeat patients), a tourist town (visitors
    with fills at home, local prescribers).
    """

    name = "pharmacy_patient_mix"
    title = ("Mezcla de pacientes atípica en farmacia (posible 'receta fácil') / "
             "Pharmacy patient mix (prescription mill)")
    subject_kind = "establishment"
    topics = ("diversion", "dispensing", "prescribing")
    tolerates = (
        "repeat patients on chronic treatment (cancer institutes, palliative services, a rural"
        " botica with one doctor: only patients with no opioid 120 days before and none 45 days"
        " after count), acute supplies of ≤ 7 days (post-operative discharges beside a"
        " hospital), visitors with fills at home (tourist and border towns), new outlets with no"
        " history (onset needs ≥ 45 days of own history; new patients moving in have history"
        " elsewhere), fills of the last 45 days (not judged before their patient could come"
        " back) or whose 120-day look-back was not read, Lima-Callao as one area, outlets whose only flags are one prescriber and"
        " uniform quantities (low at most), and chance over outlets and windows"
        " (Benjamini-Hochberg)."
    )
    thresholds = {
        "one-off chronic-strength fill": (f"patch, ≥ {CHRONIC_UNIT_MME:g} MME per oral unit or "
                                          f"≥ {CHRONIC_FILL_MME:g} MME in the fill; "
                                          f"> {SHORT_DAYS} days supply (or none given); no opioid "
                                          f"{NAIVE_DAYS} days before nor {FOLLOW_DAYS} after"),
        "core": "≥ 10 fills, ≥ 8 one-off, share ≥ 25 % and ≥ 2× peers' base rate (≥ 5 %)",
        "peers": "same kind, ≥ 8 with ≥ 10 fills (else retail, else all outlets)",
        "concentration": "top 3 prescribers ≥ 60 %",
        "distance": "≥ 50 % prescriber (or patient) of another department",
        "uniformity": "≥ 50 % one product and quantity",
        "onset": "change point, ≥ 3× own rate before it, Poisson tail < 1e-3, ≥ 45 days before",
        "graded": "≥ 2 supporting flags incl. distance or onset; 1 flag: low",
        "window": f"{WINDOW_DAYS} days, step {STEP_DAYS}",
        "multiple testing": "Benjamini–Hochberg q = 5 % over all outlet-windows",
    }
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "p_value",
                       "peer_group", "one_off_fills", "fills", "patients", "top_prescribers",
                       "top_prescriber_share", "prescriber_away_share", "patient_away_share",
                       "uniform_share", "onset_ratio", "flags", "onset", "pattern_mme")
    history_days = 120  # the 120 days before the window say whether a patient is naive

    MIN_FILLS, MIN_ONE_OFF, SHARE_MIN, BASE_RATIO, BASE_FLOOR = 10, 8, 0.25, 2.0, 0.05
    MIN_PEERS, Q, TOP_K, CONC_MIN, AWAY_MIN, MIN_KNOWN = 8, 0.05, 3, 0.60, 0.50, 5
    UNIFORM_MIN, ONSET_RATIO, ONSET_P, HIST_DAYS = 0.50, 3.0, 1e-3, 45
    GRADED_PATIENTS = 8

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        if f.n == 0:
            return []
        known = f.product >= 0
        prod = np.maximum(f.product, 0)
        opioid = known & (reg.prod_mme[prod] > 0)
        care = f.is_type("dispense", "administer") & opioid & (f.patient >= 0) & (f.t <= ctx.now_t)
        fill = care & f.is_type("dispense") & (f.qty > 0)
        if not fill.any():
            return []
        day = np.asarray(lima_day(f.t), dtype=np.int64)
        prev_gap, next_gap = self._gaps(f.patient, day, np.flatnonzero(care), f.n)
        now_day = int(lima_day(ctx.now_t))
        patch = np.array([r == "transdermal" for r in reg.prod_route], dtype=bool)
        strong = patch | ((reg.prod_mme >= CHRONIC_UNIT_MME)
                          & np.array([r == "oral" for r in reg.prod_route], dtype=bool))
        ds = f.days_supply
        chronic = known & (strong[prod] | (ctx.row_mme >= CHRONIC_FILL_MME)) & ~(
            (ds > 0) & (ds <= SHORT_DAYS))
        # Judged once the 120 days before are in the frame (no history can only be said of a
        # look-back that was seen) and the patient has come back or 45 days have passed.
        seen_from = int(day[f.t <= ctx.now_t].min()) + NAIVE_DAYS
        determined = fill & (day >= seen_from) & (
            (next_gap <= FOLLOW_DAYS) | (day <= now_day - FOLLOW_DAYS))
        # Not back (yet): the fills of the last 45 days count in the pattern's magnitude, not
        # in the test.
        single = fill & chronic & (prev_gap > NAIVE_DAYS) & (next_gap > FOLLOW_DAYS)
        one_off = determined & single

        rows = np.flatnonzero(determined)
        rows = rows[np.argsort(f.t[rows], kind="stable")]
        t, est, hit = f.t[rows], f.est[rows], one_off[rows]
        nest = len(f.estv)
        kinds = [reg.est_kind[c] if c < len(reg.est_kind) else None for c in range(nest)]
        first_t = np.full(nest, np.iinfo(np.int64).max)
        np.minimum.at(first_t, f.est[fill], f.t[fill])
        best: dict[int, dict[str, Any]] = {}
        n_tests = 0
        exempt = prescriber_exempt(ctx, np.arange(len(f.profv)))
        for k in range(N_WINDOWS):
            end = ctx.now_t - k * STEP_DAYS * DAY
            start = end - WINDOW_DAYS * DAY
            if end <= ctx.start_t or (len(t) and start < int(t[0]) - DAY):
                break
            a, b = np.searchsorted(t, [start, end])
            if b - a == 0:
                continue
            n = np.bincount(est[a:b], minlength=nest)
            x = np.bincount(est[a:b], weights=hit[a:b], minlength=nest)
            share = np.where(n > 0, x / np.maximum(n, 1), 0.0)
            tested = np.flatnonzero(n >= self.MIN_FILLS)
            n_tests += len(tested)
            for e in map(int, tested):
                if x[e] < self.MIN_ONE_OFF:
                    continue
                base, peers, label = self._base(e, kinds, tested, n, x, share)
                if share[e] < self.SHARE_MIN or share[e] < self.BASE_RATIO * base:
                    # A mill may hide in a busy honest outlet: its prescribers' fills there
                    # are one-off nearly all, the outlet's are not.
                    judged, pair = self._pair(ctx, rows, a, b, e, hit, base, exempt)
                    n_tests += judged
                    if pair is None:
                        continue
                    p = pair["p"]
                    if e not in best or p < best[e]["p"]:
                        best[e] = {"p": p, "start": start, "end": end, "a": a, "b": b,
                                   "n": int(n[e]), "x": int(x[e]), "share": float(share[e]),
                                   "base": base, "peer_shares": peers, "label": label,
                                   "pair": pair}
                    continue
                p = binom_sf(int(x[e]), int(n[e]), base)
                if e not in best or p < best[e]["p"]:
                    best[e] = {"p": p, "start": start, "end": end, "a": a, "b": b,
                                    "n": int(n[e]), "x": int(x[e]), "share": float(share[e]),
                                    "base": base, "peer_shares": peers, "label": label}
        if not best:
            return []
        keep = bh_keep([v["p"] for v in best.values()], n_tests, self.Q)
        out = []
        for (code, v), ok in zip(best.items(), keep, strict=True):
            if not ok:
                continue
            draft = self._finding(ctx, code, v, rows, one_off, single, day,
                                  np.maximum(first_t, seen_from * DAY - LIMA_OFFSET_S))
            if draft is not None:
                out.append(draft)
        return out

    PAIR_SHARE = 0.8  # a prescriber's fills at one outlet, one-off nearly all

    def _pair(self, ctx: DetectionContext, rows: np.ndarray, a: int, b: int, e: int,
              hit: np.ndarray, base: float,
              exempt: np.ndarray) -> tuple[int, dict[str, Any] | None]:
        """The outlet's strongest prescriber in the window: ≥ ``MIN_ONE_OFF`` one-off fills
        that are ≥ ``PAIR_SHARE`` of that prescriber's fills there (oncology and palliative
        care left out: their new patients may not come back), tested against the outlet
        kind's base rate. Returns (pairs judged, for Benjamini–Hochberg; the finding or None)."""
        f = ctx.frame
        w = np.arange(a, b)
        w = w[f.est[rows[w]] == e]
        pres = f.prescriber[rows[w]]
        ok = pres >= 0
        if not ok.any():
            return 0, None
        codes, n = np.unique(pres[ok], return_counts=True)
        x = np.bincount(np.searchsorted(codes, pres[ok][hit[w][ok]]), minlength=len(codes))
        tested = 0
        found: dict[str, Any] | None = None
        for i in np.flatnonzero(x >= self.MIN_ONE_OFF):
            tested += 1
            c = int(codes[i])
            share = x[i] / n[i]
            if exempt[c] or share < max(self.PAIR_SHARE, self.BASE_RATIO * base):
                continue
            p = binom_sf(int(x[i]), int(n[i]), base)
            if found is None or p < found["p"]:
                found = {"p": p, "prescriber": c, "fills": int(n[i]), "one_off": int(x[i])}
        return tested, found

    @staticmethod
    def _gaps(patient: np.ndarray, day: np.ndarray, care: np.ndarray,
              n: int) -> tuple[np.ndarray, np.ndarray]:
        """Days since the patient's previous opioid care on an earlier day, and until the next
        on a later day (inf when none), for every frame row of ``care``."""
        prev_gap = np.full(n, np.inf)
        next_gap = np.full(n, np.inf)
        if len(care) == 0:
            return prev_gap, next_gap
        order = care[np.lexsort((day[care], patient[care]))]
        p, d = patient[order], day[order]
        # Blocks of one patient's one day: the previous block of the same patient is its
        # previous day of care, the next block its next.
        new = np.ones(len(order), dtype=bool)
        new[1:] = (p[1:] != p[:-1]) | (d[1:] != d[:-1])
        bid = np.cumsum(new) - 1
        starts = np.flatnonzero(new)
        bp, bd = p[starts], d[starts].astype(np.float64)
        prev_d = np.full(len(starts), -np.inf)
        next_d = np.full(len(starts), np.inf)
        same_prev = np.zeros(len(starts), dtype=bool)
        same_prev[1:] = bp[1:] == bp[:-1]
        prev_d[1:] = np.where(same_prev[1:], bd[:-1], -np.inf)
        next_d[:-1] = np.where(same_prev[1:], bd[1:], np.inf)
        prev_gap[order] = bd[bid] - prev_d[bid]
        next_gap[order] = next_d[bid] - bd[bid]
        return prev_gap, next_gap

    def _base(self, e: int, kinds: list[str | None], tested: np.ndarray, n: np.ndarray,
              x: np.ndarray, share: np.ndarray) -> tuple[float, np.ndarray, str]:
        """Return the base rate of one-off fills among ``e``'s peers (same kind, else retail,
        else every outlet), their shares and the group's label."""
        kind = kinds[e] if e < len(kinds) else None
        groups: list[tuple[tuple[str, ...] | None, str]] = []
        if kind:
            groups.append(((kind,), "hospital_outpatient" if kind == "hospital" else kind))
        if kind in RETAIL:
            groups.append((RETAIL, "retail"))
        groups.append((None, "all_outlets"))
        for allowed, label in groups:
            peers = np.array([c for c in tested if c != e and (
                allowed is None or (c < len(kinds) and kinds[c] in allowed))], dtype=np.int64)
            if len(peers) >= self.MIN_PEERS or allowed is None:
                if len(peers) == 0:
                    return self.BASE_FLOOR, np.zeros(0), label
                # The median share, not the pooled rate: one busy mill among the peers would
                # raise a pooled rate for every outlet of its kind.
                base = max(float(np.median(share[peers])), self.BASE_FLOOR)
                return base, share[peers], label
        return self.BASE_FLOOR, np.zeros(0), "all_outlets"  # pragma: no cover

    def _finding(self, ctx: DetectionContext, e: int, v: dict[str, Any], rows: np.ndarray,
                 one_off: np.ndarray, single: np.ndarray, day: np.ndarray,
                 first_t: np.ndarray) -> AlertDraft | None:
        f, reg = ctx.frame, ctx.registry
        wrows = rows[v["a"]:v["b"]]
        mine = wrows[f.est[wrows] == e]
        hits = mine[one_off[mine]]
        est_area = _area(reg.est_dept[e] if e < len(reg.est_dept) else None)
        # Concentration: the top prescribers of the one-off fills.
        pres = f.prescriber[hits]
        named = pres[pres >= 0]
        tops: list[dict[str, Any]] = []
        conc = None
        away_share = None
        if len(named):
            codes, cnt = np.unique(named, return_counts=True)
            # Ties broken by the prescriber's id, not by the frame's codes (their order follows
            # the rows as loaded): the same data names the same prescribers, run after run.
            order = np.array(sorted(range(len(codes)), key=lambda i: (
                -int(cnt[i]), f.profv.name(int(codes[i])) or "")), dtype=np.int64)
            top = codes[order[:self.TOP_K]]
            conc = float(cnt[order[:self.TOP_K]].sum() / len(named)) if len(named) >= self.MIN_KNOWN else None
            all_named = f.prescriber[mine]
            for c, m in zip(top, cnt[order[:self.TOP_K]], strict=True):
                dept = reg.prof_dept[c] if c < len(reg.prof_dept) else None
                tops.append({
                    "id": f.profv.name(int(c)), "one_off_fills": int(m),
                    "share": float(m / len(hits)),
                    "share_of_all_fills": float((all_named == c).sum() / len(mine)),
                    "department": dept,
                    "out_of_area": (None if not dept or not est_area else _area(dept) != est_area),
                })
            depts = [_area(reg.prof_dept[c]) if c < len(reg.prof_dept) else None for c in named]
            known_d = [d for d in depts if d]
            if est_area and len(known_d) >= self.MIN_KNOWN:
                away_share = sum(d != est_area for d in known_d) / len(known_d)
        top_ids = {t["id"] for t in tops}
        top_all = (float(np.isin(f.prescriber[mine], [f.profv.code(i) for i in top_ids]).sum()
                          / len(mine)) if tops else None)
        # Patients from another department.
        pd = f.patient_dept[hits]
        pat_depts = [_area(f.deptv.name(int(c))) for c in pd if c >= 0]
        pat_away = (sum(d != est_area for d in pat_depts) / len(pat_depts)
                    if est_area and len(pat_depts) >= self.MIN_KNOWN else None)
        # Uniformity: one product and one quantity.
        pairs = f.product[hits].astype(np.int64) * 1_000_003 + np.round(f.qty[hits] * 100).astype(np.int64)
        _, pc = np.unique(pairs, return_counts=True)
        uniform = float(pc.max() / len(hits))
        # The pattern's onset: a change point on the outlet's one-off fills; sudden when the
        # rate after it is ≥ 3× the rate before it (≥ 45 days of own history before it).
        all_hits = np.flatnonzero(one_off & (f.est == e))
        all_hits = all_hits[np.argsort(f.t[all_hits], kind="stable")]
        now_day = int(lima_day(ctx.now_t))
        first_day = int(lima_day(int(first_t[e])))
        last_day = now_day - FOLLOW_DAYS
        onset_day = self._onset(day[all_hits], first_day, last_day)
        onset_ratio = onset_p = None
        hist_days = onset_day - first_day
        if hist_days >= self.HIST_DAYS:
            k0 = int((day[all_hits] < onset_day).sum())
            k1 = len(all_hits) - k0
            expected = max(k0, 0.5) / hist_days * max(last_day - onset_day + 1, 1)
            onset_ratio = k1 / expected
            onset_p = poisson_sf(k1, expected)
        flags = []
        if conc is not None and conc >= self.CONC_MIN:
            flags.append("prescriber_concentration")
        if away_share is not None and away_share >= self.AWAY_MIN:
            flags.append("prescriber_elsewhere")
        if pat_away is not None and pat_away >= self.AWAY_MIN:
            flags.append("patients_elsewhere")
        if uniform >= self.UNIFORM_MIN:
            flags.append("uniform_quantities")
        if onset_ratio is not None and onset_ratio >= self.ONSET_RATIO and onset_p is not None and onset_p < self.ONSET_P:
            flags.append("sudden_onset")
        if not flags:
            return None
        strong = {"prescriber_elsewhere", "patients_elsewhere", "sudden_onset"}
        graded = len(flags) >= 2 and bool(strong & set(flags))
        # The pattern: every naive single fill since the onset, those of the last 45 days
        # (whose patients may still come back) included.
        pattern = np.flatnonzero(single & (f.est == e) & (day >= onset_day))
        pattern = pattern[np.argsort(f.t[pattern], kind="stable")]
        pending = int((day[pattern] > now_day - FOLLOW_DAYS).sum())
        if len(pattern) == 0:  # pragma: no cover - the window's hits are in the frame
            pattern = hits
        mme = float(ctx.row_mme[pattern].sum())
        mg = float(ctx.row_mg[pattern].sum())
        fent_mg = float(ctx.row_mg[pattern][reg.prod_fentanyl[f.product[pattern]]].sum())
        npat = len(np.unique(f.patient[pattern]))
        ip = min(max(math.log(max(npat, 1) / 8) / math.log(10), 0.0), 1.0)
        im = min(max(math.log(max(mme, 1.0) / 3000) / math.log(50), 0.0), 1.0)
        score = 40.0 + 50.0 * (ip + im) / 2
        if not graded or npat < self.GRADED_PATIENTS:
            score = min(score, LOW_SCORE)
        eid = f.estv.name(e) or ""
        kind_es = {"pharmacy": "farmacias", "drugstore": "boticas", "clinic": "clínicas",
                   "hospital_outpatient": "farmacias de hospital", "retail": "farmacias y boticas",
                   "all_outlets": "todos los establecimientos que dispensan"}.get(v["label"], v["label"])
        t0 = int(f.t[pattern[0]])
        t1 = int(f.t[pattern[-1]])
        who = ", ".join(f"{x['id']} ({x['share'] * 100:.0f} %)" for x in tops) or "sin prescriptor"
        summary = (
            f"{eid} dispensó {v['x']} de {v['n']} recetas de opioides de alta potencia en 90 días "
            f"({v['share'] * 100:.0f} %) a pacientes de una sola dispensación y sin historial, frente "
            f"a {v['base'] * 100:.0f} % en {kind_es}; las firman sobre todo {who}"
            + (f", {away_share * 100:.0f} % de prescriptores de otro departamento"
               if away_share is not None else "")
            + (f"; {f.profv.name(v['pair']['prescriber'])} firmó {v['pair']['one_off']} de sus "
               f"{v['pair']['fills']} recetas aquí para pacientes de una sola dispensación"
               if v.get("pair") else "")
            + f". Desde el {day_str(t0)}: {npat} pacientes, {fmt(round(mme))} MME."
        )
        if not graded:
            summary += " Una sola señal de apoyo o sin distancia ni inicio brusco: aviso de baja prioridad."
        peers = v["peer_shares"]
        evidence = {
            "metric": "share of one-off chronic-strength fills",
            "observed": v["share"], "expected": v["base"],
            "peer_range": ([float(np.percentile(peers, 25)), float(np.percentile(peers, 75))]
                           if len(peers) else None),
            "percentile": percentile_of(v["share"], peers) if len(peers) else None,
            "p_value": v["p"], "peer_group": v["label"], "peers": int(len(peers)),
            "window_days": WINDOW_DAYS, "window": [day_str(v["start"]), day_str(v["end"])],
            "one_off_fills": v["x"], "fills": v["n"], "one_off_share": v["share"],
            "patients": npat, "pattern_fills": int(len(pattern)), "pending_fills": pending,
            "pattern_mme": round(mme, 1), "pattern_mg": round(mg, 1), "fentanyl_mg": round(fent_mg, 2),
            "onset": day_str(t0), "pattern_end": day_str(t1),
            "top_prescribers": tops, "prescriber_ids": [x["id"] for x in tops],
            "top_prescriber_share": conc, "top_prescribers_share_of_all_fills": top_all,
            "prescriber_away_share": away_share, "patient_away_share": pat_away,
            "uniform_share": uniform, "onset_ratio": onset_ratio, "onset_p": onset_p,
            "flags": flags, "graded": graded,
            "prescriber_pair": ({"id": f.profv.name(v["pair"]["prescriber"]),
                                 "one_off_fills": v["pair"]["one_off"],
                                 "fills": v["pair"]["fills"]} if v.get("pair") else None),
            **f.events(pattern),
        }
        return self.draft(eid, t0, t1, 1.0, mme, summary, evidence,
                          department=reg.est_dept[e] if e < len(reg.est_dept) else None,
                          ubigeo=reg.est_ubigeo[e] if e < len(reg.est_ubigeo) else None,
                          score=score)

    @staticmethod
    def _onset(days: np.ndarray, first: int, last: int) -> int:
        """Return the day the outlet's one-off fills change to a higher rate (the single change
        point of a Poisson rate maximising the likelihood ratio), or its first one-off day."""
        k = len(days)
        if k == 0:
            return first
        best, at = 0.0, int(days[0])
        total = max(last - first + 1, 1)
        base = k * math.log(k / total)
        for i in range(1, k):
            before = max(int(days[i]) - first, 1)
            after = max(last - int(days[i]) + 1, 1)
            rb, ra = i / before, (k - i) / after
            if ra <= rb:
                continue
            llr = i * math.log(rb) + (k - i) * math.log(ra) - base
            if llr > best:
                best, at = llr, int(days[i])
        return at
