"""Re-redaction of stored citizen reports with the current redactor (``centinela report
redact-stored``): a one-off, idempotent, audited pass for reports stored before the redactor
learnt what it knows now.

Each stored report goes through what a new report goes through before storage
(:func:`centinela.public.intake.redact_for_storage` for the text, the establishment name and the
seller's lead; :func:`~centinela.public.intake.redact_addition` and
:func:`~centinela.public.intake.addition_lead` for the reporter's additions), applied to the
stored values. The stored ``contact`` (the seller's lead) is kept unless the current rules would
not have kept it: it reads as a person's (:func:`~centinela.public.redaction.claimed_by_people`,
the check that refuses such a contact on the form), or the report's own words tie that number
or e-mail to the reporter or a bystander and never to the seller (the old rules made a lead of
every number that was not in the first person). A kept contact loses its identity-document
numbers (DNI, CE, passport, a person's RUC) as a new one does
(:func:`~centinela.public.intake.redact_contact`; counted as ``contact_redacted``), and is
dropped when it held nothing else. A report left without a lead gets one when the current rules
find the seller's number in its words, as at intake.

Copies of the establishment name in the alerts of the ``citizen_report`` detector (summary and
``evidence.establishment_names``) and in their outbox payloads get the same redaction. Labels of
an earlier pass survive unchanged (``redact_text`` is idempotent), text that needs no change is
not rewritten (not even its Unicode normalization), and ``updated_at`` is left alone: the
reporter's timeline does not move.

Nothing personal is returned or audited: counts, report ids, alert ids and delivery ids.
"""

from __future__ import annotations

import copy
import datetime as dt
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert, Delivery
from centinela.audit import record
from centinela.public.escalation import DETECTOR
from centinela.public.intake import (
    addition_lead,
    redact_addition,
    redact_contact,
    redact_for_storage,
)
from centinela.public.matching import contact_key
from centinela.public.models import CitizenReport, ReportEvent
from centinela.public.redaction import claimed_by_people, phone_value, redact_text, scan

ACTION = "citizen_report.redact_stored"
# What can change, in the order the command prints it. Report fields count reports (additions:
# events); the alert fields count alerts and outbox deliveries. ``contact_redacted``: the same
# contact kept without its identity-document numbers (:func:`intake.redact_contact`).
REPORT_FIELDS = ("text", "establishment_name", "contact_removed", "contact_added",
                 "contact_redacted", "addition_text")
ALERT_FIELDS = ("alert_summary", "alert_evidence", "delivery_payload")
FIELDS = REPORT_FIELDS + ALERT_FIELDS
DEFAULT_BATCH = 200


@dataclass
class Result:
    """What a pass found (dry run) or wrote (``applied``): rows per field, and their ids."""

    applied: bool
    reports: int = 0
    additions: int = 0
    alerts: int = 0
    deliveries: int = 0
    batches_written: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    ids: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FIELDS})
    audit_ids: list[int] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(self.counts.values())

    def report_ids(self) -> list[str]:
        """Every report with at least one changed field (sorted)."""
        return sorted({i for f in REPORT_FIELDS for i in self.ids[f]})

    def as_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "reports": self.reports, "additions": self.additions,
                "alerts": self.alerts, "deliveries": self.deliveries,
                "batches_written": self.batches_written,
                "counts": {f: self.counts[f] for f in FIELDS},
                "reports_changed": len(self.report_ids()),
                "ids": {f: list(self.ids[f]) for f in FIELDS},
                "audit_ids": list(self.audit_ids)}


@dataclass(frozen=True)
class Plan:
    """The stored values a report should have now (``None`` fields: unchanged)."""

    text: str | None = None
    establishment_name: str | None = None
    contact: tuple[str | None, str | None] | None = None  # (contact, contact_key)
    additions: tuple[tuple[ReportEvent, str], ...] = ()

    def fields(self, old_contact: str | None) -> list[str]:
        out = []
        if self.text is not None:
            out.append("text")
        if self.establishment_name is not None:
            out.append("establishment_name")
        if self.contact is not None:
            new = self.contact[0]
            if (old_contact is not None and new is not None
                    and new == redact_contact(old_contact)):
                out.append("contact_redacted")  # the same contact, less a document number
            else:
                if old_contact is not None:
                    out.append("contact_removed")
                if new is not None:
                    out.append("contact_added")
        if self.additions:
            out.append("addition_text")
        return out


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _new(old: str, new: str) -> str | None:
    """``new`` when it differs from ``old`` by more than Unicode normalization, else None."""
    return None if new == old or new == _nfc(old) else new


def _contact_tied_to_people(contact: str, texts: Sequence[tuple[str, str]]) -> bool:
    """True when the report's own words (``(text, default_owner)`` pairs) tie the stored contact
    to the reporter or a bystander and never to the seller."""
    key = contact_key(contact)
    mail = contact.strip().casefold()
    owners = set()
    for text, default_owner in texts:
        if not text:
            continue
        for f in scan(_nfc(text), default_owner):
            if f.kind == "phone" and contact_key(phone_value(f.value)) == key:
                owners.add(f.owner)
            elif f.kind == "email" and f.value.casefold() == mail:
                owners.add(f.owner)
    return "seller" not in owners and bool(owners & {"self", "other"})


def plan_report(report: CitizenReport, additions: Sequence[ReportEvent]) -> Plan:
    """What the current storing logic makes of a stored report and its reporter additions
    (``additions`` in timeline order)."""
    text, name, contact = report.text or "", report.establishment_name, report.contact
    words = [(text, "unknown"), (name or "", "seller")] + [(e.text or "", "unknown")
                                                            for e in additions]
    keep = contact is not None and not claimed_by_people(contact) and not (
        _contact_tied_to_people(contact, words))
    stored = redact_for_storage(text, name or None, contact if keep else None)
    lead = stored.contact
    for event in additions:  # as add_info: a seller's number given later fills an empty lead
        if lead is not None:
            break
        lead = addition_lead(event.text or "")
    changed_additions = []
    for event in additions:
        new = _new(event.text or "", redact_addition(event.text or ""))
        if new is not None:
            changed_additions.append((event, new))
    return Plan(
        text=_new(text, stored.text) if text else None,
        establishment_name=_new(name, stored.establishment_name or "") if name else None,
        contact=None if lead == contact else (lead, contact_key(lead)),
        additions=tuple(changed_additions),
    )


def _apply_plan(report: CitizenReport, plan: Plan) -> None:
    if plan.text is not None:
        report.text = plan.text
    if plan.establishment_name is not None:
        report.establishment_name = plan.establishment_name
    if plan.contact is not None:
        report.contact, report.contact_key = plan.contact
    for event, new in plan.additions:
        event.text = new


def _names(names: object) -> list[str] | None:
    """The redacted list of an alert's ``establishment_names`` (None: nothing to change)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    redacted = [redact_text(n, default_owner="seller") for n in names]
    if all(_new(n, r) is None for n, r in zip(names, redacted, strict=True)):
        return None
    return sorted(set(redacted))  # as escalation lists them


def _summary(summary: object, renamed: dict[str, str]) -> str | None:
    """The summary with every stored establishment name that changed replaced (None: as is)."""
    if not isinstance(summary, str):
        return None
    new = summary
    for old in sorted(renamed, key=len, reverse=True):
        if old and old in new:
            new = new.replace(old, renamed[old])
    return new if new != summary else None


def _renamed(names: object, known: dict[str, str]) -> dict[str, str]:
    """Old → new establishment names that an alert's summary may carry."""
    out = dict(known)
    if isinstance(names, list):
        for n in names:
            if isinstance(n, str):
                new = redact_text(n, default_owner="seller")
                if new != n:
                    out[n] = new
    return out


def _scrub_alert_copy(doc: dict[str, Any], known: dict[str, str]) -> tuple[str | None,
                                                                             dict[str, Any] | None]:
    """New (summary, evidence) of an alert or of its outbox payload (None: unchanged)."""
    evidence = doc.get("evidence") if isinstance(doc.get("evidence"), dict) else None
    names = evidence.get("establishment_names") if evidence is not None else None
    summary = _summary(doc.get("summary"), _renamed(names, known))
    new_names = _names(names)
    new_evidence = None
    if evidence is not None and new_names is not None:
        new_evidence = copy.deepcopy(evidence)
        new_evidence["establishment_names"] = new_names
    return summary, new_evidence


def _batches(session: Session, model: Any, size: int, lock: bool,
             *where: Any) -> Iterator[Sequence[Any]]:
    """Rows of ``model`` in id order, ``size`` at a time (locked when applying)."""
    after = 0
    while True:
        query = select(model).where(model.id > after, *where).order_by(model.id).limit(size)
        rows = session.scalars(query.with_for_update() if lock else query).all()
        if not rows:
            return
        after = rows[-1].id
        yield rows


def _close_batch(session: Session, result: Result, apply: bool, actor: str, now: dt.datetime,
                 subject: str, batch: Counter[str], batch_ids: dict[str, list[str]],
                 loaded: Sequence[object]) -> None:
    if apply and batch:
        entry = record(session, actor, ACTION, subject,
                       reason="stored citizen reports re-redacted with the current redactor",
                       details={"mode": "apply", "counts": dict(sorted(batch.items())),
                                "ids": {k: v for k, v in batch_ids.items() if v}}, now=now)
        result.audit_ids.append(entry.id)
        result.batches_written += 1
    if apply:
        session.commit()  # one transaction per batch (its audit entry with it)
    for obj in loaded:
        session.expunge(obj)


def redact_stored(session: Session, *, apply: bool, actor: str, now: dt.datetime,
                  batch_size: int = DEFAULT_BATCH) -> Result:
    """Re-redact every stored report (``apply``) or say what would change (dry run).

    Applying commits one transaction per batch of reports (and of alerts), each with an audit
    entry of its counts and ids; a closing audit entry records the run either way (a dry run
    writes nothing else). The caller's session must have nothing pending: it is committed.
    """
    result = Result(applied=apply)
    renamed: dict[str, str] = {}  # stored establishment names → redacted, for alert copies
    for reports in _batches(session, CitizenReport, batch_size, apply):
        rids = [r.report_id for r in reports]
        events = session.scalars(select(ReportEvent).where(
            ReportEvent.report_id.in_(rids), ReportEvent.actor == "reporter",
            ReportEvent.kind == "info").order_by(ReportEvent.at, ReportEvent.id)).all()
        by_report: dict[str, list[ReportEvent]] = {}
        for e in events:
            by_report.setdefault(e.report_id, []).append(e)
        batch: Counter[str] = Counter()
        batch_ids: dict[str, list[str]] = {f: [] for f in REPORT_FIELDS}
        for report in reports:
            plan = plan_report(report, by_report.get(report.report_id, []))
            for f in plan.fields(report.contact):
                n = len(plan.additions) if f == "addition_text" else 1
                batch[f] += n
                batch_ids[f].append(report.report_id)
            if plan.establishment_name is not None and report.establishment_name:
                renamed[report.establishment_name] = plan.establishment_name
            if apply:
                _apply_plan(report, plan)
        result.reports += len(reports)
        result.additions += len(events)
        result.counts.update(batch)
        for f in REPORT_FIELDS:
            result.ids[f].extend(batch_ids[f])
        _close_batch(session, result, apply, actor, now, f"reports {rids[0]}..{rids[-1]}",
                     batch, batch_ids, [*reports, *events])
    for alerts in _batches(session, Alert, batch_size, apply,
                           Alert.detector == DETECTOR):
        batch = Counter()
        batch_ids = {f: [] for f in ALERT_FIELDS}
        for alert in alerts:
            summary, evidence = _scrub_alert_copy(
                {"summary": alert.summary, "evidence": alert.evidence}, renamed)
            if summary is not None:
                batch["alert_summary"] += 1
                batch_ids["alert_summary"].append(alert.alert_id)
            if evidence is not None:
                batch["alert_evidence"] += 1
                batch_ids["alert_evidence"].append(alert.alert_id)
            if apply and summary is not None:
                alert.summary = summary
            if apply and evidence is not None:
                alert.evidence = evidence
        query = select(Delivery).where(Delivery.alert_id.in_([a.alert_id for a in alerts])
                                       ).order_by(Delivery.id)
        deliveries = session.scalars(query.with_for_update() if apply else query).all()
        for d in deliveries:
            payload = d.payload if isinstance(d.payload, dict) else {}
            summary, evidence = _scrub_alert_copy(payload, renamed)
            if summary is None and evidence is None:
                continue
            batch["delivery_payload"] += 1
            batch_ids["delivery_payload"].append(str(d.id))
            if apply:
                new = copy.deepcopy(payload)
                if summary is not None:
                    new["summary"] = summary
                if evidence is not None:
                    new["evidence"] = evidence
                d.payload = new
        result.alerts += len(alerts)
        result.deliveries += len(deliveries)
        result.counts.update(batch)
        for f, got in batch_ids.items():
            result.ids[f].extend(got)
        _close_batch(session, result, apply, actor, now,
                     f"alerts {alerts[0].alert_id}..{alerts[-1].alert_id}", batch, batch_ids,
                     [*alerts, *deliveries])
    entry = record(session, actor, ACTION, "run",
                   reason="stored citizen reports re-redacted with the current redactor",
                   details={"mode": "apply" if apply else "dry_run", "reports": result.reports,
                            "additions": result.additions, "alerts": result.alerts,
                            "deliveries": result.deliveries,
                            "batches_written": result.batches_written,
                            "reports_changed": len(result.report_ids()),
                            "counts": {f: result.counts[f] for f in FIELDS}}, now=now)
    result.audit_ids.append(entry.id)
    session.commit()
    return result
