"""Early refills: a prescriber whose patients get their next supply long before the last runs out."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import bh_keep, binom_sf, strength_from_p
from centinela.detect.util import dispense_daily_mme, transdermal


class EarlyRefills(Detector):
    """A prescriber whose renewals are early far more often than other prescribers'.

    A renewal is a dispense of the same product to the same patient after an earlier one whose
    length is known (its ``days_supply``, or a patch's three days); it is **early** when it
    comes before three quarters of that supply could be used (the PDMP and payer convention:
    a 30-day supply renewed before day 23) and does not raise the daily dose (a titration up,
    a new strength, is a new regimen, not an early renewal). Each renewal counts for the
    prescriber who wrote it. Tablets and ampoules whose dispense gave no ``days_supply`` are
    not judged: their length is unknown. Rows less than a day apart (one prescription filled
    from two lots) are one fill, not a renewal.

    For k early renewals out of n, the expected share is every other prescriber's (pooled,
    never below 2 %); flagged when k ≥ 8 over at least 3 patients, the share is at least
    30 % and three times the expected one, and the binomial tail P(X ≥ k) survives
    Benjamini–Hochberg (q = 5 %) over every prescriber with ≥ 5 renewals. Its magnitude is
    the supply handed out ahead of need (the unused days of each early renewal's previous
    supply, in MME). A brand-new prescriber is judged from the first renewal: unlike a
    comparison with their own past, this needs none.
    """

    name = "early_refills"
    title = "Renovaciones anticipadas / Early refills by a prescriber"
    tolerates = (
        "occasional early renewals (travel, a lost patch: the base rate of every other "
        "prescriber), titrations up (a renewal that raises the daily dose is a new regimen), "
        "supplies whose length is unknown (not judged), and a few patients (>= 3 needed)."
    )
    subject_kind = "professional"
    topics = ("diversion", "prescribing")
    thresholds = {"early": "before 75 % of the previous supply's days",
                  "early renewals": "≥ 8 over ≥ 3 patients",
                  "share": "≥ 30 % and ≥ 3 × other prescribers' (floor 2 %)",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over prescribers with ≥ 5 renewals"}
    evidence_fields = ("observed", "expected", "renewals", "early_renewals", "patients",
                       "days_ahead", "event_ids")

    EARLY_FRACTION, MIN_EARLY, MIN_PATIENTS, MIN_SHARE = 0.75, 8, 3, 0.30
    RATIO, FLOOR, MIN_TESTED, TITRATION = 3.0, 0.02, 5, 1.2

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero(f.is_type("dispense") & (f.patient >= 0) & (f.product >= 0)
                              & (f.prescriber >= 0))
        if len(rows) < 2:
            return []
        order = np.lexsort((f.t[rows], f.product[rows], f.patient[rows]))
        rows = rows[order]
        daily, days = dispense_daily_mme(ctx, rows)
        ds = f.days_supply[rows]
        known = (~np.isnan(ds) & (ds > 0)) | transdermal(ctx)[f.product[rows]]  # length known
        t = f.t[rows]
        same = (f.patient[rows][1:] == f.patient[rows][:-1]) \
            & (f.product[rows][1:] == f.product[rows][:-1])
        prev_known = known[:-1]
        elapsed = (t[1:] - t[:-1]) / DAY
        # A renewal is judged when the previous supply's length is known; early when it comes
        # before 75 % of it and does not raise the daily dose (a titration up).
        # Rows of one fill (a prescription dispensed from two lots, or in two rows on one
        # visit: less than a day apart) are one supply, not a renewal.
        judged = same & prev_known & (elapsed >= 1.0)
        early = judged & (elapsed < self.EARLY_FRACTION * days[:-1]) \
            & (daily[1:] <= self.TITRATION * daily[:-1])
        cur = rows[1:]
        in_scope = ctx.in_scope[cur]
        judged &= in_scope
        early &= in_scope
        pres = f.prescriber[cur]
        nprof = len(f.profv)
        n = np.bincount(pres[judged], minlength=nprof)
        k = np.bincount(pres[early], minlength=nprof)
        total_n, total_k = int(n.sum()), int(k.sum())
        tested = np.flatnonzero(n >= self.MIN_TESTED)
        if not len(tested):
            return []
        ahead = np.where(early, np.maximum(days[:-1] - elapsed, 0.0), 0.0)
        ahead_mme = ahead * daily[:-1]
        cands = []
        for c in tested:
            kc, nc = int(k[c]), int(n[c])
            others_n, others_k = total_n - nc, total_k - kc
            base = max(others_k / others_n if others_n else 0.0, self.FLOOR)
            share = kc / nc
            if kc < self.MIN_EARLY or share < max(self.MIN_SHARE, self.RATIO * base):
                cands.append((int(c), 1.0, base))
                continue
            mine = early & (pres == c)
            if len(np.unique(f.patient[cur[mine]])) < self.MIN_PATIENTS:
                cands.append((int(c), 1.0, base))
                continue
            cands.append((int(c), binom_sf(kc, nc, base), base))
        keep = bh_keep([p for _c, p, _b in cands], len(cands))
        out = []
        for (c, p, base), ok in zip(cands, keep, strict=True):
            if not ok or p >= 1.0:
                continue
            mine = early & (pres == c)
            out.append(self._alert(ctx, c, p, base, int(k[c]), int(n[c]), cur[mine],
                                   float(ahead[mine].sum()), float(ahead_mme[mine].sum())))
        return out

    def _alert(self, ctx: DetectionContext, c: int, p: float, base: float, k: int, n: int,
               rows: np.ndarray, days_ahead: float, mme_ahead: float) -> AlertDraft:
        f = ctx.frame
        name = f.profv.name(c)
        patients = int(len(np.unique(f.patient[rows])))
        t0, t1 = int(f.t[rows].min()), int(f.t[rows].max())
        products = sorted({f.prodv.name(int(x)) for x in f.product[rows]})
        ests = f.est[rows]
        top = int(np.bincount(ests).argmax()) if len(ests) else -1
        summary = (f"{name} firmó {k} de {n} renovaciones ({k / n:.0%}) antes de que el paciente "
                   f"pudiera usar el 75 % del suministro anterior, frente a {base:.0%} en los "
                   f"demás prescriptores: {patients} pacientes, {fmt(days_ahead)} días de "
                   f"tratamiento entregados por adelantado ({fmt(mme_ahead)} MME) entre "
                   f"{day_str(t0)} y {day_str(t1)}.")
        dept = ctx.registry.prof_dept[c] if c < len(ctx.registry.prof_dept) else None
        return self.draft(
            name, t0, t1, strength_from_p(p), mme_ahead, summary,
            {"metric": "early renewal share", "observed": round(k / n, 4),
             "expected": round(base, 4), "renewals": n, "early_renewals": k,
             "patients": patients, "days_ahead": round(days_ahead, 1), "p_value": p,
             "products": products,
             "establishment_id": f.estv.name(top) if top >= 0 else None,
             **f.events(rows)},
            department=dept or (ctx.est_department(top) if top >= 0 else None),
        )
