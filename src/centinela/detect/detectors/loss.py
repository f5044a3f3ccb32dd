"""Loss and theft: every report (real time) and establishments that report them repeatedly."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.frame import CONSUMED
from centinela.detect.scoring import bh_keep, poisson_sf, strength_from_p
from centinela.detect.util import groups, pair_key

# Severity of one reported loss by its magnitude and harm (first band reached, from the top).
# Law 32250 (Jan 2025): trafficking more than 3 mg of fentanyl or analogues carries 15–25 years,
# up to 1 mg 3–7 years; doses (units) and MME weigh the other opioids on the same scale.
LOSS_BANDS = (
    # severity, score range, units ≥, fentanyl-family mg ≥, MME ≥
    ("critical", (85.0, 100.0), 100.0, 30.0, 9000.0),
    ("high", (65.0, 84.9), 20.0, 3.0, 900.0),
    ("medium", (40.0, 64.9), 5.0, 1.0, 150.0),
)
BREAKAGE_UNITS = 2.0  # one or two units (an ampoule dropped on the ward) stay low


def loss_score(units: float, fentanyl_mg: float, mme: float) -> float:
    """Return the 0–100 score of a loss of ``units`` holding ``fentanyl_mg`` of fentanyl-family
    substance and ``mme`` morphine milligram equivalents."""
    from centinela.detect.scoring import impact_from_mme

    pos = impact_from_mme(mme)  # position inside the band, by total MME (log scale)
    if units > BREAKAGE_UNITS:
        for _sev, (lo, hi), min_units, min_mg, min_mme in LOSS_BANDS:
            if units >= min_units or fentanyl_mg >= min_mg or mme >= min_mme:
                return lo + (hi - lo) * pos
    return 10.0 + 29.0 * pos


class LossReport(Detector):
    """Every ``loss`` movement (lost or stolen units) is an alert graded by magnitude and harm.

    Severity: critical from 100 units, 30 mg of fentanyl-family substance or 9 000 MME (hundreds
    of ampoules: police and prosecutors at once); high from 20 units, 3 mg (the Law 32250
    trafficking line) or 900 MME; medium from 5 units, 1 mg or 150 MME; otherwise low. One or
    two units (a breakage) are always low. Real time judges only losses that occurred within
    ``realtime_window_days``; older reports are history for the batch run.
    """

    name = "loss_report"
    title = "Pérdida o robo reportado / Loss or theft reported"
    tolerates = (
        "breakages (one or two units are always low and stay with DIGEMID and the region) and"
        " backfills (only losses within realtime_window_days are judged in real time). "
        "Severity follows magnitude (units, mg of fentanyl, MME), not the mere report."
    )
    subject_kind = "establishment"
    realtime = True
    topics = ("theft_loss",)
    settings_used = ("realtime_window_days",)
    thresholds = {"loss movements": "every one, graded by magnitude",
                  "critical": "≥ 100 units or ≥ 30 mg fentanyl-family or ≥ 9 000 MME",
                  "high": "≥ 20 units or > 3 mg (Law 32250) or ≥ 900 MME",
                  "medium": "≥ 5 units or ≥ 1 mg or ≥ 150 MME",
                  "low": "otherwise; 1–2 units (breakage) always low"}
    evidence_fields = ("units", "fentanyl_mg", "doses", "product_code", "event_ids")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero(f.is_type("loss") & ctx.in_scope)
        family = ctx.registry.prod_family
        f.event_id_list(rows)  # every loss's event_id in one query (cached for f.events)
        out = []
        for i in rows:
            est = int(f.est[i])
            name = f.estv.name(est)
            prod = int(f.product[i])
            product = f.prodv.name(prod)
            units = float(f.qty[i])
            mg = float(ctx.row_mg[i]) if prod >= 0 and family[prod] else 0.0
            mme = float(ctx.row_mme[i])
            score = loss_score(units, mg, mme)
            harm = f" ({fmt(mg, 2)} mg de fentanilo o análogos)" if mg > 0 else ""
            summary = (f"{name} reportó la pérdida o robo de {fmt(units)} unidades de "
                       f"{product}{harm} el {day_str(int(f.t[i]))}.")
            out.append(self.draft(
                name, int(f.t[i]), int(f.t[i]), 0.5, mme, summary,
                {"units": units, "doses": units, "fentanyl_mg": round(mg, 3),
                 "product_code": product, "lot": f.lotv.name(int(f.lot[i])),
                 "professional_id": f.profv.name(int(f.professional[i])), **f.events(np.array([i]))},
                department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
                score=score,
            ))
        return out


class RepeatedLoss(Detector):
    """An establishment reporting more losses than its throughput explains.

    A loss event is an incident: the loss rows an establishment books on one day count once (a
    theft of several products or lots is booked as several rows). Expected losses = the
    national rate of incidents per unit consumed × the establishment's units consumed in the
    window; flagged when at least two losses and the Poisson tail
    probability P(X ≥ k) is below 1e-3 and survives Benjamini–Hochberg (q = 5 %) over every
    establishment that handled stock.
    """

    name = "repeated_loss"
    title = "Pérdidas repetidas / Repeated losses"
    tolerates = (
        "losses in proportion to the units handled (national rate x throughput) and chance "
        "across all establishments (Benjamini-Hochberg), so a big hospital's yearly breakages"
        " are not a pattern."
    )
    subject_kind = "establishment"
    topics = ("theft_loss",)
    thresholds = {"loss events": "≥ 2", "Poisson tail vs national rate": "p < 1e-3",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over establishments"}
    evidence_fields = ("observed", "expected", "p_value", "units_lost", "throughput_units")

    P_MAX, Q = 1e-3, 0.05

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        win = ctx.in_scope & (f.est >= 0)
        loss = np.flatnonzero(win & f.is_type("loss"))
        if len(loss) < 2:
            return []
        used = win & f.is_type(*CONSUMED)
        through = np.bincount(f.est[used], weights=f.qty[used], minlength=len(f.estv))
        # A loss event is an incident: the rows one establishment books on one day (a theft of
        # several products or lots is one theft, booked as one row per product or lot).
        day = ctx.row_day[loss].astype(np.int64)
        incidents = len(np.unique(pair_key(f.est[loss], day)))
        rate = incidents / max(float(through.sum()), 1.0)
        cands = []
        for est, grp in groups(f.est[loss], loss):
            k = len(np.unique(ctx.row_day[grp]))
            if k < 2:
                continue
            mu = rate * float(through[est])
            p = poisson_sf(k, mu)
            if p < self.P_MAX:
                cands.append((p, est, grp, k, mu))
        # Every establishment that handled stock is a test (Benjamini–Hochberg, q = 5 %).
        n_tests = int(np.count_nonzero(through > 0)) + len(cands)
        keep = bh_keep([c[0] for c in cands], n_tests, self.Q)
        out = []
        for (p, est, grp, k, mu), ok in zip(cands, keep, strict=True):
            if not ok:
                continue
            name = f.estv.name(est)
            units = float(f.qty[grp].sum())
            summary = (f"{name} reportó {k} pérdidas o robos en días distintos ({fmt(units)} "
                       f"unidades) entre "
                       f"{day_str(int(f.t[grp].min()))} y {day_str(int(f.t[grp].max()))}; "
                       f"se esperaban {mu:.2f} según su movimiento.")
            out.append(self.draft(
                name, int(f.t[grp].min()), int(f.t[grp].max()), strength_from_p(p),
                float(ctx.row_mme[grp].sum()), summary,
                {"metric": "loss events", "observed": k, "expected": round(mu, 4), "p_value": p,
                 "units_lost": units, "throughput_units": float(through[est]),
                 "national_rate_per_unit": rate, **f.events(grp)},
                department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
            ))
        return out
