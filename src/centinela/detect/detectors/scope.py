"""Scope of practice: opioids dispensed on the prescription of someone whose profession does not
prescribe them."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.scoring import calibrate
from centinela.detect.util import transdermal
from centinela.ledger.mme import FENTANYL_FAMILY

#: Dentistry and oral surgery as the registry may write them (Spanish or English).
DENTAL_SPECIALTIES = frozenset({
    "dentistry", "dental", "odontology", "odontologia", "odontología", "oral_surgery",
    "oral_maxillofacial_surgery", "maxillofacial_surgery", "cirugia_bucal_maxilofacial",
    "cirugía_bucal_maxilofacial", "periodontics", "endodontics", "orthodontics",
    "pediatric_dentistry", "odontopediatria",
})
#: Substances no dentist or midwife prescribes for outpatients, whatever the form.
RESTRICTED = frozenset(FENTANYL_FAMILY) | {"methadone", "hydromorphone", "oxycodone",
                                            "buprenorphine", "pethidine", "meperidine"}


def scope_of(role: str | None, name: str, specialty: str | None) -> str | None:
    """The scope a professional prescribes under: ``None`` (full: a physician, or unknown),
    ``not_a_prescriber`` (a nurse or pharmacist), ``dental`` or ``midwifery`` (acute pain,
    short courses)."""
    if role in ("nurse", "pharmacist"):
        return "not_a_prescriber"
    if name.startswith(("CEP-", "CQFP-")) and role != "prescriber":
        return "not_a_prescriber"
    if name.startswith("COP-") or (specialty or "").strip().lower() in DENTAL_SPECIALTIES:
        return "dental"
    if name.startswith("COB-"):
        return "midwifery"
    return None


class PrescriberScope(Detector):
    """Opioids dispensed on a prescription whose prescriber's profession does not cover them.

    Peru's prescribers of controlled opioids are physicians (``CMP-``); dentists (``COP-``) and
    midwives (``COB-``) may prescribe analgesics for acute pain within their field; nurses
    (``CEP-``) and pharmacists (``CQFP-``) prescribe none. The profession comes from the
    registry's role and specialty, else from the college-number prefix. A ``dispense`` whose
    ``prescriber_id`` is

    - a nurse or pharmacist: always outside scope (a forged prescription, or a prescription
      written under a colleague's number);
    - a dentist or midwife: outside scope for a transdermal patch (chronic pain in
      opioid-tolerant patients), any fentanyl-family opioid or methadone, oxycodone,
      hydromorphone, buprenorphine or pethidine, or a course longer than 7 days (dental and
      obstetric pain is acute: guidelines ask for 3 days or less).

    Physicians are not judged here (their volumes are ``prescriber_volume``'s). Administrations
    inside an establishment are not judged (a surgical team's orders), only dispenses to take
    away.

    One alert per prescriber over the lookback window. A single such dispense is listed as a
    low notice (a prescriber number typed in the wrong field is a known clerical slip); two or
    more are graded: the rule's strength grows with the count (0.55 at 2, 0.70 at 10, 0.85 at
    100) for restricted opioids and patches, and starts lower (0.35) when the only finding is
    courses longer than 7 days of another opioid; the MME dispensed outside scope is the
    magnitude.
    """

    name = "prescriber_scope"
    title = "Prescripción fuera del ámbito profesional / Prescribing outside the profession's scope"
    tolerates = (
        "physicians (any specialty: not judged here), a dentist's or midwife's short courses "
        "(<= 7 days) of opioids other than the restricted ones, administrations inside an "
        "establishment, and a single such dispense (a low notice: a number typed in the wrong "
        "field is a known slip)."
    )
    subject_kind = "professional"
    topics = ("prescribing", "diversion")
    thresholds = {"dentist or midwife": "patch, fentanyl family, methadone, oxycodone, "
                                        "hydromorphone, buprenorphine, pethidine, or > 7 days",
                  "nurse or pharmacist": "any opioid dispense",
                  "graded": "≥ 2 dispenses (one is a low notice)"}
    evidence_fields = ("role", "scope", "dispenses", "patients", "reasons", "max_patch_mcg_h",
                       "products", "event_ids")

    MAX_DAYS, NOTICE_SCORE = 7.0, 35.0

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        rows = np.flatnonzero(f.is_type("dispense") & (f.prescriber >= 0) & (f.product >= 0)
                              & ctx.in_scope)
        if not len(rows):
            return []
        pres = f.prescriber[rows]
        scopes: dict[int, str] = {}
        for c in np.unique(pres):
            code = int(c)
            s = scope_of(reg.prof_role[code], f.profv.name(code) or "",
                         reg.prof_specialty[code])
            if s is not None:
                scopes[code] = s
        if not scopes:
            return []
        mine = np.isin(pres, np.fromiter(scopes, dtype=pres.dtype, count=len(scopes)))
        rows, pres = rows[mine], pres[mine]
        prod = f.product[rows]
        patch = transdermal(ctx)[prod]
        restricted = np.array([(reg.prod_substance[int(p)] or "") in RESTRICTED for p in prod],
                              dtype=bool)
        long_course = np.nan_to_num(f.days_supply[rows], nan=0.0) > self.MAX_DAYS
        out = []
        order = np.argsort(pres, kind="stable")
        cuts = np.flatnonzero(np.diff(pres[order])) + 1
        for grp in np.split(order, cuts):
            code = int(pres[grp[0]])
            scope = scopes[code]
            if scope == "not_a_prescriber":
                bad = np.ones(len(grp), dtype=bool)
            else:
                bad = patch[grp] | restricted[grp] | long_course[grp]
            if not bad.any():
                continue
            out.append(self._alert(ctx, code, scope, rows[grp[bad]], patch[grp[bad]],
                                   restricted[grp[bad]], long_course[grp[bad]]))
        return out

    def _alert(self, ctx: DetectionContext, code: int, scope: str, rows: np.ndarray,
               patch: np.ndarray, restricted: np.ndarray, long_course: np.ndarray) -> AlertDraft:
        f, reg = ctx.frame, ctx.registry
        name = f.profv.name(code)
        role = reg.prof_role[code] or {"not_a_prescriber": "nurse" if name.startswith("CEP-")
                                       else "pharmacist", "dental": "prescriber",
                                       "midwifery": "prescriber"}[scope]
        n = int(len(np.unique(f.row_id[rows])))
        patients = int(len(np.unique(f.patient[rows][f.patient[rows] >= 0])))
        t0, t1 = int(f.t[rows].min()), int(f.t[rows].max())
        mme = float(ctx.row_mme[rows].sum())
        products = sorted({f.prodv.name(int(x)) for x in f.product[rows]})
        rates = reg.prod_patch[f.product[rows][patch]] if patch.any() else np.array([])
        max_patch = float(np.nanmax(rates)) if len(rates) and not np.isnan(rates).all() else None
        reasons = {"patch": int(patch.sum()), "restricted_opioid": int((restricted & ~patch).sum()),
                   "long_course": int((long_course & ~patch & ~restricted).sum())}
        if scope == "not_a_prescriber":
            reasons = {"not_a_prescriber": n}
        strong = scope == "not_a_prescriber" or bool((patch | restricted).any())
        strength = min(0.95, (0.55 if strong else 0.35) + 0.15 * math.log10(max(n, 1) / 2))
        who = {"not_a_prescriber": "enfermero(a)" if role == "nurse" else "químico farmacéutico",
               "dental": "odontólogo(a)", "midwifery": "obstetra"}[scope]
        what = []
        if reasons.get("patch"):
            what.append(f"{reasons['patch']} con parches transdérmicos"
                        + (f" de hasta {fmt(max_patch)} mcg/h" if max_patch else ""))
        if reasons.get("restricted_opioid"):
            what.append(f"{reasons['restricted_opioid']} con opioides ajenos a su campo")
        if reasons.get("long_course"):
            what.append(f"{reasons['long_course']} con tratamientos de más de "
                        f"{int(self.MAX_DAYS)} días")
        detail = f" ({'; '.join(what)})" if what else ""
        summary = (f"Se dispensaron {n} receta(s) de opioides firmadas por {name}, {who}, "
                   f"fuera del ámbito de su profesión{detail}, para {patients} paciente(s) y "
                   f"{fmt(mme)} MME entre el {day_str(t0)} y el {day_str(t1)}.")
        ests = f.est[rows]
        top = int(np.bincount(ests).argmax()) if len(ests) else -1
        evidence = {"metric": "out-of-scope dispenses", "observed": n, "role": role,
                    "scope": scope, "dispenses": n, "patients": patients, "reasons": reasons,
                    "max_patch_mcg_h": max_patch, "products": products,
                    "establishment_id": f.estv.name(top) if top >= 0 else None,
                    **f.events(rows)}
        dept = ctx.prof_department(code) or (ctx.est_department(top) if top >= 0 else None)
        score = None
        if n < 2:  # one dispense: a notice (a number typed in the wrong field is a known slip)
            evidence["notice"] = True
            score = min(calibrate(strength, mme)[0], self.NOTICE_SCORE)
        return self.draft(name, t0, t1, strength, mme, summary, evidence, department=dept,
                          score=score)
