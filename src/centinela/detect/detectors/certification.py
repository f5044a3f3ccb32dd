"""Certification: fentanyl handled after the deadline without a certificate valid that day."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.certification.rule import HANDLING_ROLES, periods_by_professional
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext, day_number
from centinela.detect.scoring import calibrate
from centinela.detect.util import groups, pair_key, role_of
from centinela.lib.clock import LIMA_OFFSET_S


class UncertifiedHandler(Detector):
    """A pharmacist or prescriber handling fentanyl after ``certification_deadline`` without a
    certificate valid on that date (``centinela.certification.rule``: any certificate of the
    ``certificates`` table or the registry's ``opioid_certified_on`` + ``certification_valid_days``).

    Handling = named as ``prescriber_id`` or ``professional_id`` on a fentanyl movement. Role comes
    from the registry, else from the college-number prefix (CQFP pharmacist, CMP/COP prescriber);
    nurses are outside this rule. One alert per professional and violation: its window starts at
    the deadline (or the day the certificate lapsed) and grows with each new event.

    Severity follows harm, not only the rule: the certificate is a competency in prescribing and
    dispensing opioids to patients, so a professional whose uncertified handling reached
    patients (prescriptions, dispenses, administrations) gets the graded score (medium), while
    one named only on custody records (stock counts, receipts, transfers: a warehouse or
    pharmacy director signing the books) is a compliance notice at ``low`` — still listed, so
    the regulator can ask for the certificate, but not ranked with diversion findings.

    The rule has a base rate too: when at least half of the pharmacists and prescribers named
    on fentanyl movements after the deadline (≥ 20 of them) hold no valid certificate, the gap
    is systemic — renewals missing from the registry, or a programme not yet running — and
    each finding is a compliance notice (``low``, ``systemic`` in its evidence), so that a
    lapsed national registry does not bury the authorities in thousands of alerts. Where
    certification is the norm, the exceptions are graded as above.

    The grace period before the deadline is for a programme that is starting. Where
    certification is already the norm (≥ 90 % of the ≥ 20 pharmacists and prescribers named on
    fentanyl movements hold a certificate of some date), a handler who holds none at all and
    whose handling reached patients is listed from go-live as a compliance notice (``low``,
    ``in_grace_period``): the rule does not bind yet, and a few per cent of handlers without a
    certificate is a base rate, not a finding. Where certification is common but not yet the
    norm (more than 10 % and less than half of the handlers hold none), only the heaviest of
    those without one are listed the same way: patient-facing fentanyl events in the grace
    period in the top decile of all handlers' (and ≥ 20), a worklist for the programme rather
    than a cliff at the norm's share. A lapsed certificate is not judged before the
    deadline.
    """

    name = "uncertified_handler"
    title = "Manejo de fentanilo sin certificación / Uncertified fentanyl handler"
    tolerates = (
        "events before the certification deadline (a patient-facing handler with no certificate "
        "at all where >= 90 % of handlers hold one is a low notice; where more than half do, "
        "only a top-decile patient-facing handler with >= 20 such events), certificates valid "
        "on the event's date, "
        "and nurses (outside the rule). Repeats extend one alert per professional and "
        "violation. Handling of custody records only (counts, receipts, transfers, no patient "
        "reached) stays a low-severity compliance notice, and so does every finding when at "
        "least half of the handlers (>= 20) hold no valid certificate (a systemic gap)."
    )
    subject_kind = "professional"
    realtime = True
    rechecks = True  # a certificate registered since makes the handler's alert stale
    topics = ("compliance",)
    settings_used = ("go_live", "certification_grace_days", "certification_valid_days")
    evidence_fields = ("role", "certified_on", "certificate_valid_until", "deadline",
                       "patient_facing_events", "patients", "events")
    CUSTODY_ONLY_MAX = 35.0  # below the medium band (40): a compliance notice
    # Systemic gap: at least this share of ≥ SYSTEMIC_MIN_HANDLERS handlers without a valid
    # certificate makes each individual finding a notice.
    SYSTEMIC_SHARE, SYSTEMIC_MIN_HANDLERS = 0.5, 20
    # Grace period: a handler with no certificate at all is an exception once at least this
    # share of the (≥ SYSTEMIC_MIN_HANDLERS) handlers holds one.
    GRACE_NORM_SHARE = 0.9
    # Between the norm and a systemic gap, only the heaviest: patient-facing fentanyl events
    # in the grace period at or above this quantile of all handlers' (and at least the floor).
    HEAVY_QUANTILE, HEAVY_MIN_EVENTS = 0.9, 20

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        return self._after_deadline(session, ctx) + self._never_certified_in_grace(session, ctx)

    def _never_certified_in_grace(self, session: Session, ctx: DetectionContext) -> list[AlertDraft]:
        """During the grace period, a handler who holds no certificate at all where the others
        already do: the exception to a norm, not the programme still starting."""
        f, reg = ctx.frame, ctx.registry
        go_live = day_number(ctx.settings.go_live)
        deadline = day_number(ctx.settings.certification_deadline)
        fent = (f.product >= 0) & reg.prod_fentanyl[np.maximum(f.product, 0)] & ctx.in_scope
        named = np.concatenate([f.prescriber[fent & (f.prescriber >= 0)],
                                f.professional[fent & (f.professional >= 0)]])
        codes = [int(c) for c in np.unique(named) if role_of(ctx, int(c)) in HANDLING_ROLES]
        if len(codes) < self.SYSTEMIC_MIN_HANDLERS:
            return []
        names = {c: f.profv.name(c) for c in codes}
        per = periods_by_professional(session, ctx.settings.certification_valid_days,
                                      ids=sorted(names.values()) if len(codes) <= 5000 else None)
        never = [c for c in codes if not per.get(names[c])]
        n_never = len(never)
        if len(never) >= self.SYSTEMIC_SHARE * len(codes):
            return []  # the programme is starting: the grace period is for this
        grace = fent & (ctx.row_day >= go_live) & (ctx.row_day < deadline)
        if len(never) > (1 - self.GRACE_NORM_SHARE) * len(codes):
            # Certification is common but not yet the norm: only the heaviest patient-facing
            # handlers without any certificate are listed (a worklist for the programme,
            # not a cliff at the norm's share).
            never = self._heaviest(ctx, grace, codes, never)
        out = []
        for code in never:
            grp = np.flatnonzero(grace & ((f.prescriber == code) | (f.professional == code)))
            if len(grp) == 0:
                continue
            pid = names[code]
            role = role_of(ctx, code)
            mg = float(ctx.row_mg[grp].sum())
            mme = float(ctx.row_mme[grp].sum())
            facing = grp[(f.patient[grp] >= 0) | (f.prescriber[grp] == code)]
            patients = int(len(np.unique(f.patient[facing][f.patient[facing] >= 0])))
            summary = (f"{pid} ({role}) manejó {fmt(mg, 2)} mg de fentanilo en {len(grp)} "
                       f"movimiento(s) entre {day_str(int(f.t[grp].min()))} y "
                       f"{day_str(int(f.t[grp].max()))} sin ningún certificado registrado, "
                       f"cuando {len(codes) - n_never} de {len(codes)} de quienes manejan "
                       f"fentanilo ya están certificados (plazo: "
                       f"{ctx.settings.certification_deadline}).")
            if len(facing) == 0:
                continue  # custody records only: nothing for the grace year
            summary += " Aviso de cumplimiento del período de gracia."
            score = min(calibrate(0.45, mme)[0], self.CUSTODY_ONLY_MAX)
            out.append(self.draft(
                pid, int(f.t[grp].min()), int(f.t[grp].max()), 0.45, mme, summary,
                {"role": role, "registered": bool(reg.prof_known[code]), "certified_on": None,
                 "certificate_valid_until": None,
                 "deadline": ctx.settings.certification_deadline.isoformat(),
                 "in_grace_period": True, "fentanyl_mg": mg,
                 "patient_facing_events": int(len(facing)), "patients": patients,
                 "handlers_never_certified": [n_never, len(codes)], **f.events(grp)},
                department=ctx.prof_department(code), score=score,
            ))
        return out

    def _heaviest(self, ctx: DetectionContext, grace: np.ndarray, codes: list[int],
                  never: list[int]) -> list[int]:
        """The handlers of ``never`` whose patient-facing fentanyl events in the grace period
        reach the ``HEAVY_QUANTILE`` of every handler's (and ``HEAVY_MIN_EVENTS``)."""
        f = ctx.frame
        n = len(f.profv)
        rx = grace & (f.prescriber >= 0)
        given = grace & (f.professional >= 0) & (f.patient >= 0) & (f.professional != f.prescriber)
        events = (np.bincount(f.prescriber[rx], minlength=n)
                  + np.bincount(f.professional[given], minlength=n))
        counts = events[np.asarray(codes)]
        floor = max(float(np.quantile(counts, self.HEAVY_QUANTILE)), self.HEAVY_MIN_EVENTS)
        return [c for c in never if events[c] >= floor]

    def _after_deadline(self, session: Session, ctx: DetectionContext) -> list[AlertDraft]:
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
        # The one rule (centinela.certification.rule): valid from issue to expiry, both
        # included, from the certificates table and the registry's opioid_certified_on.
        day = ctx.row_day[rows]
        codes = np.unique(who)
        names = {int(c): f.profv.name(int(c)) for c in codes}
        per = periods_by_professional(session, valid,
                                      ids=sorted(set(names.values())) if len(codes) <= 5000 else None)
        ok = np.zeros(len(rows), dtype=bool)
        ends = np.full(len(rows), np.nan)
        starts = np.full(len(rows), np.nan)
        order = np.argsort(who, kind="stable")
        bounds = np.searchsorted(who[order], codes)
        for i, code in enumerate(codes):
            ps = per.get(names[int(code)], [])
            if not ps:
                continue
            m = order[bounds[i]:bounds[i + 1] if i + 1 < len(codes) else len(order)]
            d = day[m]
            hit = np.zeros(len(d), dtype=bool)
            # Latest period begun on or before each day (for the "lapsed" window).
            st = np.full(len(d), np.nan)
            en = np.full(len(d), np.nan)
            for p in ps:
                p0, p1 = day_number(p.start), day_number(p.end)
                began = d >= p0
                hit |= began & (d <= p1)
                st = np.where(began, p0, st)
                en = np.where(began, np.fmax(en, p1), en)
            ok[m], starts[m], ends[m] = hit, st, en
        # The base rate: when most handlers named after the deadline hold no valid certificate,
        # the gap is systemic (renewals not in the registry, a programme not yet running), and
        # thousands of individual alerts would bury the exceptions; each stays listed as a
        # compliance notice (low) and the certification page shows the whole picture.
        roles = {int(c): role_of(ctx, int(c)) for c in codes}
        handler_codes = [c for c, role in roles.items() if role in HANDLING_ROLES]
        without = set(np.unique(who[~ok]).tolist()) & set(handler_codes)
        systemic = (len(handler_codes) >= self.SYSTEMIC_MIN_HANDLERS
                    and len(without) >= self.SYSTEMIC_SHARE * len(handler_codes))
        rows, who, starts, ends = rows[~ok], who[~ok], starts[~ok], ends[~ok]
        keep = np.array([roles[int(c)] in HANDLING_ROLES for c in who], dtype=bool)
        rows, who, starts, ends = rows[keep], who[keep], starts[keep], ends[keep]
        if len(rows) == 0:
            return []
        # The violation starts at the deadline, or the day after the certificate lapsed; one
        # alert per professional and violation, its window growing with each new event.
        lapsed = ~np.isnan(ends) & (ends < ctx.row_day[rows])
        vstart = np.where(lapsed, np.maximum(deadline, np.nan_to_num(ends) + 1), deadline)
        vstart = vstart.astype(np.int64)
        key = pair_key(who, vstart - vstart.min())
        out = []
        for _, grp_pos in groups(key, np.arange(len(rows))):
            grp = np.unique(rows[grp_pos])
            code = int(who[grp_pos[0]])
            pid = f.profv.name(code)
            m0 = int(vstart[grp_pos[0]]) * DAY - LIMA_OFFSET_S
            m1 = int(f.t[grp].max())
            first = grp_pos[0]
            certified, until = starts[first], ends[first]
            if np.isnan(certified):  # no certificate began before: the next one, if any
                later = per.get(pid, [])
                certified = day_number(later[0].start) if later else np.nan
                until = day_number(later[0].end) if later else np.nan
            cert_on = None if np.isnan(certified) else dt.date(1970, 1, 1) + dt.timedelta(days=int(certified))
            cert_until = None if np.isnan(until) else dt.date(1970, 1, 1) + dt.timedelta(days=int(until))
            if cert_on is None:
                why = "sin certificado"
            elif cert_on > dt.date(1970, 1, 1) + dt.timedelta(days=int(ctx.row_day[grp].min())):
                why = f"certificado recién el {cert_on}"
            else:
                why = f"certificado vencido (emitido el {cert_on})"
            mg = float(ctx.row_mg[grp].sum())
            # Patient-facing acts: the harm the certificate is meant to prevent.
            facing = grp[(f.patient[grp] >= 0) | (f.prescriber[grp] == code)]
            patients = int(len(np.unique(f.patient[facing][f.patient[facing] >= 0])))
            summary = (f"{pid} ({roles[code]}) manejó {fmt(mg, 2)} mg de fentanilo en {len(grp)} "
                       f"movimiento(s) entre {day_str(int(f.t[grp].min()))} y "
                       f"{day_str(int(f.t[grp].max()))}, después del plazo de certificación, {why}.")
            score = None
            if len(facing) == 0:
                summary += " Solo registros de custodia (conteos, recepciones): aviso de cumplimiento."
                score = min(calibrate(0.45, float(ctx.row_mme[grp].sum()))[0], self.CUSTODY_ONLY_MAX)
            elif systemic:
                summary += (f" La mayoría de quienes manejan fentanilo ({len(without)} de "
                            f"{len(handler_codes)}) no tiene un certificado vigente registrado: "
                            "brecha sistémica, aviso de cumplimiento.")
                score = min(calibrate(0.45, float(ctx.row_mme[grp].sum()))[0], self.CUSTODY_ONLY_MAX)
            out.append(self.draft(
                pid, m0, m1, 0.45, float(ctx.row_mme[grp].sum()), summary,
                {"role": roles[code], "registered": bool(reg.prof_known[code]),
                 "certified_on": cert_on.isoformat() if cert_on else None,
                 "certificate_valid_until": cert_until.isoformat() if cert_until else None,
                 "deadline": ctx.settings.certification_deadline.isoformat(),
                 "fentanyl_mg": mg, "patient_facing_events": int(len(facing)),
                 "patients": patients,
                 "handlers_without_valid_certificate": [len(without), len(handler_codes)],
                 "systemic": systemic, **f.events(grp)},
                department=ctx.prof_department(code), score=score,
            ))
        return out
