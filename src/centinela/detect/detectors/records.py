"""Detectors over the official records establishments already keep (intake extensions):
numbered special prescription forms and periodic balances of controlled medicines."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.frame import to_epoch
from centinela.detect.grouping import grouped
from centinela.detect.scoring import calibrate
from centinela.ledger.balances import reconcile
from centinela.ledger.forms import FormBook, split_number
from centinela.ledger.mme import unit_mme
from centinela.ledger.records import Movement
from centinela.lib.clock import lima_day, lima_midnight
from centinela.registry.models import Establishment, Product, Professional


def _mg(products: dict[str, Product], code: str, units: float) -> tuple[float, float]:
    """(mg, MME) of ``units`` of a product."""
    p = products.get(code)
    if p is None:
        return 0.0, 0.0
    unit = unit_mme(p.substance, p.dosage_form, p.strength_mg_per_unit, p.patch_mcg_per_hour)
    return units * unit.mg_per_unit, units * unit.mme_per_unit


class PrescriptionFormMisuse(Detector):
    """A numbered special prescription form used twice, by a prescriber it was not issued to,
    before it was issued, or outside every block issued in its series.

    The form blocks come from ``prescription_forms.csv`` (``docs/intake.md``). Without them only
    one rule runs, because form numbering elsewhere may be local: the same number from the same
    prescriber dispensed at the same establishment to two different patients. A form dispensed
    in several rows to one patient at one establishment (two lots, a partial fill) is one use.

    When the irregular forms of three or more prescribers were all filled at one establishment,
    the alert is on that establishment (variant ``establishment``: forged or recycled forms in
    real doctors' names) and each prescriber's alert is kept at ``low`` under it.
    """

    name = "prescription_form_misuse"
    title = ("Uso irregular de recetas especiales numeradas / "
             "Misuse of numbered special prescription forms")
    subject_kind = "professional"
    topics = ("prescribing", "forgery")
    thresholds = {"forms misused": "≥ 1 (any registered rule), severity by count and MME"}
    evidence_fields = ("forms", "reasons", "events", "establishments", "form_owner")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        book = FormBook.load(session)
        q = (select(Movement.prescription_id, Movement.prescriber_id, Movement.establishment_id,
                    Movement.patient_id, Movement.occurred_at, Movement.event_id,
                    Movement.product_code, Movement.quantity)
             .where(Movement.event_type == "dispense", Movement.prescription_id.is_not(None),
                    Movement.occurred_at <= now))
        # Every use, at any date, of the forms used in the window (not every form ever used).
        start = ctx.now - dt.timedelta(days=ctx.lookback_days)
        q = q.where(Movement.prescription_id.in_(
            select(Movement.prescription_id).where(
                Movement.event_type == "dispense", Movement.prescription_id.is_not(None),
                Movement.occurred_at >= start, Movement.occurred_at <= now)))
        uses: dict[str, list] = defaultdict(list)
        for row in session.execute(q):
            uses[row.prescription_id].append(row)
        products = {p.product_code: p for p in session.scalars(select(Product))}
        findings: dict[str, list[tuple[str, str, list]]] = defaultdict(list)
        for form, rows in uses.items():
            for subject, reason in self._judge(book, form, rows):
                findings[subject].append((form, reason, rows))
        out = [self._alert(subject, items, products, session)
               for subject, items in sorted(findings.items())]
        return out + self._roll_up(out, session)

    ROLL_UP_MIN = 3  # prescribers whose irregular forms were all filled at one establishment

    def _roll_up(self, drafts: list[AlertDraft], session: Session) -> list[AlertDraft]:
        """Irregular forms of ``ROLL_UP_MIN`` or more prescribers all filled at one
        establishment: the forms were made or recycled where they were filled (forged
        prescriptions in real doctors' names), so the alert is on that establishment and each
        prescriber's is kept at ``low`` under it."""
        by_est: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(drafts):
            est = d.evidence.get("establishment_id")
            if isinstance(est, str):
                by_est[est].append(i)
        extra = []
        for est_id, idx in sorted(by_est.items()):
            if len(idx) < self.ROLL_UP_MIN:
                continue
            ds = [drafts[i] for i in idx]
            forms = sorted({x for d in ds for x in d.evidence.get("forms") or []})
            reasons: dict[str, int] = defaultdict(int)
            for d in ds:
                for r, k in (d.evidence.get("reasons") or {}).items():
                    reasons[r] += int(k)
            events = [x for d in ds for x in d.evidence.get("events") or []]
            prescribers = sorted(d.subject_id for d in ds)
            mme = float(sum(float(d.evidence.get("mme") or 0.0) for d in ds))
            est = session.get(Establishment, est_id)
            name = est.name if est is not None else est_id
            t0 = min(d.window_start for d in ds)
            t1 = max(d.window_end for d in ds)
            summary = (f"{name} ({est_id}) dispensó {len(events)} veces recetas especiales de "
                       f"{len(prescribers)} prescriptores con uso irregular ({len(forms)} "
                       f"formularios): recetas falsificadas o recicladas en el establecimiento "
                       f"que las despacha, no un descuido de cada médico.")
            extra.append(self.draft(
                est_id, to_epoch(t0), to_epoch(t1), min(1.0, 0.7 + 0.05 * len(prescribers)),
                mme, summary,
                {"reason": "one_outlet", "forms": forms[:50], "reasons": dict(reasons),
                 "events": events[:100], "prescribers": prescribers,
                 "prescriber_count": len(prescribers), "establishment_id": est_id},
                department=est.department if est is not None else None,
                ubigeo=est.ubigeo if est is not None else None,
                subject_kind="establishment", variant="establishment"))
            for i in idx:
                drafts[i] = grouped(drafts[i], f"; se agrupa en la alerta de {est_id}, donde se "
                                               "despacharon.",
                                    {"grouped_under_establishment": est_id})
        return extra

    def _judge(self, book: FormBook, form: str, rows: list) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pairs = {(r.patient_id, r.establishment_id) for r in rows}
        block = book.find(form) if book else None
        parts = split_number(form)
        registered = block is not None or (parts is not None and book.has_series(parts[0]))
        named = {r.prescriber_id for r in rows if r.prescriber_id}
        if registered:
            if len(pairs) > 1:
                out += [(p, "reused") for p in sorted(named)]
            if block is None:
                out += [(p, "not_issued") for p in sorted(named)]
            else:
                out += [(p, "other_prescriber") for p in sorted(named - {block.prescriber_id})]
                if any(lima_day(r.occurred_at) < block.issued_on
                       for r in rows):
                    out += [(p, "before_issue") for p in sorted(named)]
            return out
        # Unregistered numbering: only the same prescriber's form at the same establishment
        # for two different patients.
        by_place: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in rows:
            if r.prescriber_id and r.patient_id:
                by_place[(r.prescriber_id, r.establishment_id)].add(r.patient_id)
        return [(p, "reused") for (p, _), patients in sorted(by_place.items())
                if len(patients) > 1]

    def _alert(self, subject: str, items: list, products: dict, session: Session) -> AlertDraft:
        forms = sorted({form for form, _, _ in items})
        reasons: dict[str, int] = defaultdict(int)
        events, ests, mme, times = [], set(), 0.0, []
        seen_rows = set()
        for _, reason, rows in items:
            reasons[reason] += 1
            for r in rows:
                if r.event_id in seen_rows:
                    continue
                seen_rows.add(r.event_id)
                events.append(r.event_id)
                ests.add(r.establishment_id)
                mme += _mg(products, r.product_code, float(r.quantity))[1]
                times.append(r.occurred_at)
        n = len(forms)
        strength = min(1.0, 0.55 + 0.1 * (n - 1))
        pro = session.get(Professional, subject)
        name = pro.full_name if pro is not None else subject
        text = {"reused": "reutilizadas", "other_prescriber": "emitidas a otro prescriptor",
                "before_issue": "usadas antes de su emisión",
                "not_issued": "con número no emitido"}
        detail = ", ".join(f"{k} {text[r]}" for r, k in sorted(reasons.items()))
        where = (f"en {sorted(ests)[0]}" if len(ests) == 1
                 else f"en {len(ests)} establecimientos")
        summary = (f"Recetas especiales de {name} ({subject}) con uso irregular: {detail}; "
                   f"{n} formulario(s), {len(events)} dispensación(es) {where}.")
        est = session.get(Establishment, sorted(ests)[0]) if ests else None
        t0, t1 = to_epoch(min(times)), to_epoch(max(times))
        return self.draft(subject, t0, t1, strength, mme, summary,
                          {"forms": forms[:50], "reasons": dict(reasons), "events": events[:100],
                           "establishments": sorted(ests),
                           # Where the forms were filled: one pharmacy filling a prescriber's
                           # forms irregularly points at that pharmacy (forged forms) as much
                           # as at the prescriber named on them.
                           "establishment_id": sorted(ests)[0] if len(ests) == 1 else None},
                          department=(pro.department if pro is not None and pro.department
                                      else est.department if est else None),
                          ubigeo=est.ubigeo if est else None)


class BalanceGap(Detector):
    """A periodic balance that does not add up, does not carry over from the previous period,
    or disagrees with the movements the establishment reported for the same period.

    Flagged when the units unaccounted for exceed both ``ABS_FLOOR`` units and ``REL_FLOOR`` of
    the units the period handled (receipts + issues): rounding of part-ampoules and a count
    taken at the end of a shift are not findings, a missing box is.
    """

    name = "balance_gap"
    title = "Balance periódico que no cuadra / Periodic balance gap"
    subject_kind = "establishment"
    topics = ("inventory",)
    thresholds = {"units unaccounted": "> 2 units and > 2 % of units handled in the period"}
    evidence_fields = ("product_code", "period", "arithmetic_gap", "carry_gap", "issues_gap",
                       "receipts_gap", "units_unexplained", "units_handled")

    ABS_FLOOR = 2.0
    REL_FLOOR = 0.02

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        products = {p.product_code: p for p in session.scalars(select(Product))}
        ests = {e.establishment_id: e for e in session.scalars(select(Establishment))}
        worst: dict[str, list] = defaultdict(list)
        for c in reconcile(session):
            gap = c.units_unexplained
            if gap > self.ABS_FLOOR and gap > self.REL_FLOOR * max(c.handled, 1.0):
                worst[c.establishment_id].append(c)
        out = []
        for est_id, checks in sorted(worst.items()):
            c = max(checks, key=lambda x: _mg(products, x.product_code,
                                              x.units_unexplained)[0])
            mg, mme = _mg(products, c.product_code, c.units_unexplained)
            share = c.units_unexplained / max(c.handled, 1.0)
            strength = min(1.0, 0.5 + 0.5 * min(share, 1.0))
            _, sev = calibrate(strength, mme)
            e = ests.get(est_id)
            name = e.name if e is not None else est_id
            summary = (f"{name}: el balance de {c.product_code} del {c.period_start} al "
                       f"{c.period_end} deja {fmt(c.units_unexplained)} unidades sin explicar "
                       f"({fmt(mg)} mg; {fmt(100 * share)} % de lo movido en el periodo)"
                       + (f" y {len(checks) - 1} periodo(s) más" if len(checks) > 1 else "")
                       + ".")
            t0 = to_epoch(lima_midnight(c.period_start))
            t1 = to_epoch(lima_midnight(c.period_end) + dt.timedelta(hours=23, minutes=59))
            out.append(self.draft(
                est_id, t0, t1, strength, mme, summary,
                {"product_code": c.product_code,
                 "period": f"{c.period_start}/{c.period_end}",
                 "arithmetic_gap": round(c.arithmetic_gap, 2),
                 "carry_gap": None if c.carry_gap is None else round(c.carry_gap, 2),
                 "issues_gap": None if c.issues_gap is None else round(c.issues_gap, 2),
                 "receipts_gap": None if c.receipts_gap is None else round(c.receipts_gap, 2),
                 "units_unexplained": round(c.units_unexplained, 2),
                 "units_handled": round(c.handled, 2), "periods_flagged": len(checks),
                 "ledger_compared": c.issues_gap is not None, "severity_basis": sev},
                department=e.department if e else None, ubigeo=e.ubigeo if e else None))
        return out


class DispenseWithoutPrescription(Detector):
    """Dispenses reported without their prescription: the sale of a controlled medicine without
    a special prescription, as pharmacies in Lima were found doing.

    A ``dispense`` needs ``prescription_id``, ``prescriber_id`` and ``patient_id``; a row
    without one of them is rejected at intake and kept with its reason (``rejections``). Those
    rows are still what the establishment declared it handed over. Clerical omissions have a
    base rate, so an establishment is flagged only when its such rows (distinct event ids in
    the lookback window, ≥ 3) are ≥ 5 % of its dispenses and more than the national share of
    such rows explains (binomial tail, Benjamini–Hochberg q = 5 % over every establishment
    with one). Severity follows the count and the MME handed over without prescription.
    """

    name = "dispense_without_prescription"
    title = "Dispensación sin receta / Dispensing without prescription"
    tolerates = (
        "occasional clerical omissions (the national share of dispense rows rejected for a "
        "missing prescription, prescriber or patient is the base rate; >= 3 rows and >= 5 % of "
        "the establishment's dispenses), re-sent files (distinct event ids), and chance across "
        "establishments (Benjamini-Hochberg)."
    )
    subject_kind = "establishment"
    topics = ("diversion", "prescribing")
    thresholds = {"rows without prescription": "≥ 3 distinct events",
                  "share of the establishment's dispenses": "≥ 5 %",
                  "vs national base rate": "binomial tail, Benjamini–Hochberg q = 5 %"}
    evidence_fields = ("rows_without_prescription", "dispenses", "share", "expected_share",
                       "missing_fields", "mme", "events")
    MISSING = ("prescription_id", "prescriber_id", "patient_id")
    MIN_ROWS, MIN_SHARE, Q = 3, 0.05, 0.05

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        from sqlalchemy import func

        from centinela.detect.scoring import bh_keep, binom_sf, strength_from_p
        from centinela.ledger.records import Rejection

        if ctx.realtime:
            return []
        start = ctx.now - dt.timedelta(days=ctx.lookback_days)
        rows = session.execute(
            select(Rejection.record, Rejection.field)
            .where(Rejection.field.in_(self.MISSING), Rejection.kind == "invalid")
        ).all()
        found: dict[str, dict[str, dict]] = defaultdict(dict)
        for record, fld in rows:
            if not isinstance(record, dict) or (record.get("event_type") or "").strip() != "dispense":
                continue
            est_id = (record.get("establishment_id") or "").strip()
            at = _parse_when(record.get("occurred_at"))
            if not est_id or at is None or not (start <= at <= ctx.now):
                continue
            key = (record.get("event_id") or "").strip() or repr(sorted(record.items()))
            found[est_id][key] = {"record": record, "field": fld, "at": at}
        if not found:
            return []
        counts = dict(session.execute(
            select(Movement.establishment_id, func.count())
            .where(Movement.event_type == "dispense", Movement.occurred_at >= start,
                   Movement.occurred_at <= ctx.now)
            .group_by(Movement.establishment_id)).all())
        total_missing = sum(len(v) for v in found.values())
        total = sum(counts.values()) + total_missing
        base = total_missing / max(total, 1)
        products = {p.product_code: p for p in session.scalars(select(Product))}
        cands = []
        for est_id, items in found.items():
            k = len(items)
            n = int(counts.get(est_id, 0)) + k
            share = k / n
            if k < self.MIN_ROWS or share < self.MIN_SHARE:
                continue
            # The base rate without this establishment (its own rows would excuse themselves).
            others = max(total - n, 1)
            r0 = max((total_missing - k) / others, 1e-4)
            cands.append((est_id, items, k, n, share, r0, binom_sf(k - 1, n, r0)))
        keep = bh_keep([c[6] for c in cands], len(found), self.Q)
        out = []
        for (est_id, items, k, n, share, r0, p), ok in zip(cands, keep, strict=True):
            if not ok:
                continue
            mg = mme = 0.0
            for it in items.values():
                r = it["record"]
                try:
                    units = float(str(r.get("quantity") or "0").replace(",", "."))
                except ValueError:
                    units = 0.0
                a, b = _mg(products, (r.get("product_code") or "").strip(), units)
                mg, mme = mg + a, mme + b
            est = session.get(Establishment, est_id)
            fields = sorted({it["field"] for it in items.values()})
            t0 = min(it["at"] for it in items.values())
            t1 = max(it["at"] for it in items.values())
            summary = (f"{est_id} declaró {k} dispensación(es) sin receta, prescriptor o paciente "
                       f"({100 * share:.0f} % de sus dispensaciones, frente a un "
                       f"{100 * r0:.1f} % en el resto del país) entre {t0.date()} y {t1.date()}: "
                       f"{fmt(mme, 1)} MME entregados sin receta registrada.")
            out.append(self.draft(
                est_id, int(to_epoch(t0)), int(to_epoch(t1)), strength_from_p(p), mme, summary,
                {"rows_without_prescription": k, "dispenses": n, "share": share,
                 "expected_share": r0, "rate": share, "peer_rate": r0,
                 "national_share": base, "missing_fields": fields,
                 "mg": mg, "p_value": p,
                 "events": sorted(str(it["record"].get("event_id") or "") for it in items.values())[:50],
                 "event_count": k},
                department=est.department if est else None, ubigeo=est.ubigeo if est else None,
            ))
        return out


def _parse_when(value) -> dt.datetime | None:
    """The raw ``occurred_at`` of a rejected row as naive UTC, or None when unreadable."""
    from centinela.ingest.values import parse_time

    try:
        return parse_time("occurred_at", str(value or "").strip())
    except Exception:  # noqa: BLE001 - an unreadable date leaves the row out, nothing else
        return None
