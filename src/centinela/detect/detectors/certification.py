"""Certification: fentanyl handled after the deadline without a certificate valid that day."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, LIMA_OFFSET_S, DetectionContext, day_number
from centinela.detect.util import groups, pair_key, role_of

HANDLING_ROLES = ("pharmacist", "prescriber")


class UncertifiedHandler(Detector):
    """A pharmacist or prescriber handling fentanyl after ``certification_deadline`` without a
    certificate valid on that date (certified on or before it, within ``certification_valid_days``).

    Handling = named as ``prescriber_id`` or ``professional_id`` on a fentanyl movement. Role comes
    from the registry, else from the college-number prefix (CQFP pharmacist, CMP/COP prescriber);
    nurses are outside this rule. One alert per professional and violation: its window starts at
    the deadline (or the day the certificate lapsed) and grows with each new event.
    """

    name = "uncertified_handler"
    title = "Manejo de fentanilo sin certificación / Uncertified fentanyl handler"
    tolerates = (
        "events before the certification deadline, certificates valid on the event's date, "
        "and nurses (outside the rule). Repeats extend one alert per professional and "
        "violation."
    )
    subject_kind = "professional"
    realtime = True
    topics = ("compliance",)
    settings_used = ("go_live", "certification_grace_days", "certification_valid_days")
    evidence_fields = ("role", "certified_on", "certificate_valid_until", "deadline", "events")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        deadline = day_number(ctx.settings.certification_deadline)
        valid = ctx.settings.certification_valid_days
        fent = (f.product >= 0) & reg.prod_fentanyl[np.maximum(f.product, 0)]
        base = fent & ctx.in_scope & (ctx.row_day >= deadline)
        rows_all, who_all = [], []
        for col in (f.prescriber, f.professional):
            r = np.flatnonzero(base & (col >= 0))
            rows_all.append(r)
            who_all.append(col[r])
        rows = np.concatenate(rows_all)
        who = np.concatenate(who_all)
        if len(rows) == 0:
            return []
        cert = reg.prof_cert_day[who]
        day = ctx.row_day[rows]
        ok = ~np.isnan(cert) & (cert <= day) & (day <= cert + valid)
        rows, who = rows[~ok], who[~ok]
        roles = {int(c): role_of(ctx, int(c)) for c in np.unique(who)}
        keep = np.array([roles[int(c)] in HANDLING_ROLES for c in who], dtype=bool)
        rows, who = rows[keep], who[keep]
        if len(rows) == 0:
            return []
        # The violation starts at the deadline, or the day after the certificate lapsed; one
        # alert per professional and violation, its window growing with each new event.
        cert = reg.prof_cert_day[who]
        lapsed = ~np.isnan(cert) & (cert + valid < ctx.row_day[rows])
        vstart = np.where(lapsed, np.maximum(deadline, np.nan_to_num(cert) + valid + 1), deadline)
        vstart = vstart.astype(np.int64)
        key = pair_key(who, vstart - vstart.min())
        out = []
        for _, grp_pos in groups(key, np.arange(len(rows))):
            grp = np.unique(rows[grp_pos])
            code = int(who[grp_pos[0]])
            pid = f.profv.name(code)
            m0 = int(vstart[grp_pos[0]]) * DAY - LIMA_OFFSET_S
            m1 = int(f.t[grp].max())
            certified = reg.prof_cert_day[code]
            cert_on = None if np.isnan(certified) else dt.date(1970, 1, 1) + dt.timedelta(days=int(certified))
            if cert_on is None:
                why = "sin certificado"
            elif cert_on > dt.date(1970, 1, 1) + dt.timedelta(days=int(ctx.row_day[grp].min())):
                why = f"certificado recién el {cert_on}"
            else:
                why = f"certificado vencido (emitido el {cert_on})"
            mg = float(ctx.row_mg[grp].sum())
            summary = (f"{pid} ({roles[code]}) manejó {fmt(mg, 2)} mg de fentanilo en {len(grp)} "
                       f"movimiento(s) entre {day_str(int(f.t[grp].min()))} y "
                       f"{day_str(int(f.t[grp].max()))}, después del plazo de certificación, {why}.")
            out.append(self.draft(
                pid, m0, m1, 0.45, float(ctx.row_mme[grp].sum()), summary,
                {"role": roles[code], "registered": bool(reg.prof_known[code]),
                 "certified_on": cert_on.isoformat() if cert_on else None,
                 "certificate_valid_until": (cert_on + dt.timedelta(days=valid)).isoformat()
                 if cert_on else None,
                 "deadline": ctx.settings.certification_deadline.isoformat(),
                 "fentanyl_mg": mg, **f.events(grp)},
                department=ctx.prof_department(code),
            ))
        return out
