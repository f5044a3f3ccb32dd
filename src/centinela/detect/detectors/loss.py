"""Loss and theft: every report (real time) and establishments that report them repeatedly."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.frame import CONSUMED
from centinela.detect.scoring import poisson_sf, strength_from_p
from centinela.detect.util import groups


class LossReport(Detector):
    """Every ``loss`` movement (lost or stolen units) is reported to the authorities at once."""

    name = "loss_report"
    title = "Pérdida o robo reportado / Loss or theft reported"
    subject_kind = "establishment"
    realtime = True
    topics = ("theft_loss",)
    thresholds = {"loss movements": "every one"}
    evidence_fields = ("units", "product_code", "event_ids")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero(f.is_type("loss") & ctx.in_scope)
        out = []
        for i in rows:
            est = int(f.est[i])
            name = f.estv.name(est)
            product = f.prodv.name(int(f.product[i]))
            summary = (f"{name} reportó la pérdida o robo de {fmt(float(f.qty[i]))} unidades de "
                       f"{product} el {day_str(int(f.t[i]))}.")
            out.append(self.draft(
                name, int(f.t[i]), int(f.t[i]), 0.5, float(ctx.row_mme[i]), summary,
                {"units": float(f.qty[i]), "product_code": product, "lot": f.lotv.name(int(f.lot[i])),
                 "professional_id": f.profv.name(int(f.professional[i])), **f.events(np.array([i]))},
                department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
            ))
        return out


class RepeatedLoss(Detector):
    """An establishment reporting more losses than its throughput explains.

    Expected losses = the national rate of loss events per unit consumed × the establishment's
    units consumed in the window; flagged when at least two losses and the Poisson tail
    probability P(X ≥ k) is below 1e-3.
    """

    name = "repeated_loss"
    title = "Pérdidas repetidas / Repeated losses"
    subject_kind = "establishment"
    topics = ("theft_loss",)
    thresholds = {"loss events": "≥ 2", "Poisson tail vs national rate": "p < 1e-3"}
    evidence_fields = ("observed", "expected", "p_value", "units_lost", "throughput_units")

    P_MAX = 1e-3

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        win = ctx.in_scope & (f.est >= 0)
        loss = np.flatnonzero(win & f.is_type("loss"))
        if len(loss) < 2:
            return []
        used = win & f.is_type(*CONSUMED)
        through = np.bincount(f.est[used], weights=f.qty[used], minlength=len(f.estv))
        rate = len(loss) / max(float(through.sum()), 1.0)
        out = []
        for est, grp in groups(f.est[loss], loss):
            k = len(grp)
            if k < 2:
                continue
            mu = rate * float(through[est])
            p = poisson_sf(k, mu)
            if p >= self.P_MAX:
                continue
            name = f.estv.name(est)
            units = float(f.qty[grp].sum())
            summary = (f"{name} reportó {k} pérdidas o robos ({fmt(units)} unidades) entre "
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
