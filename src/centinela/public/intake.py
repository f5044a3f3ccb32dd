"""Citizen-report intake shared by the web form, the JSON API, the SMS webhook and the CLI:
validate, store anonymously, give a follow-up code, raise the EWS signal and (for pharmacies)
the alert. Reporter-facing status and additions go through the code only."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.public import codes
from centinela.public.matching import contact_key, link_establishment, snap
from centinela.public.models import (
    REPORT_CHANNELS,
    REPORT_HOWS,
    REPORT_KINDS,
    CitizenReport,
    ReportEvent,
    ReportPhoto,
)
from centinela.public.photos import sanitize
from centinela.public.redaction import (
    LABELS,
    claimed_by_people,
    lead_phones,
    redact_documents,
    redact_text,
)
from centinela.public.text import words
from centinela.reference import ubigeo as ref

MAX_ADDITIONS = 20


class ReportError(ValueError):
    """Invalid report input; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class ReportInput:
    kind: str
    ubigeo: str
    text: str = ""
    how: str | None = None
    occurred_on: dt.date | None = None
    establishment_name: str | None = None
    contact: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    photo: bytes | None = None


def validate(data: ReportInput, now: dt.datetime) -> ReportInput:
    """Check every field and return a cleaned copy (raises ReportError naming the field)."""
    settings = get_settings().public
    if data.kind not in REPORT_KINDS:
        raise ReportError("kind", f"must be one of {', '.join(REPORT_KINDS)}")
    code = (data.ubigeo or "").strip().zfill(6)
    if not ref.is_valid(code):
        raise ReportError("ubigeo", "choose a district from the INEI list")
    if data.how is not None and data.how not in REPORT_HOWS:
        raise ReportError("how", f"must be one of {', '.join(REPORT_HOWS)}")
    text = (data.text or "").strip()
    if len(text) > settings.text_max_chars:
        raise ReportError("text", f"longer than {settings.text_max_chars} characters")
    if data.occurred_on is not None:
        if data.occurred_on > now.date() + dt.timedelta(days=1):
            raise ReportError("occurred_on", "is in the future")
        if data.occurred_on < now.date() - dt.timedelta(days=3 * 365):
            raise ReportError("occurred_on", "is more than three years ago")
    lat, lon = data.latitude, data.longitude
    if (lat is None) != (lon is None):
        raise ReportError("location", "give both latitude and longitude, or neither")
    if lat is not None:
        if not (-18.5 <= lat <= 0.2 and -81.5 <= lon <= -68.5):
            raise ReportError("location", "the map pin is outside Peru")
        lat, lon = snap(lat, lon)
    name = (data.establishment_name or "").strip()[:300] or None
    contact = (data.contact or "").strip()[:300] or None
    if not text and not name and not contact:
        raise ReportError("text", "describe what you saw, or give the place or seller contact")
    if contact is not None and claimed_by_people(contact):
        # "987654321 (es mío)", "mi cel …": the field is for the seller's contact only.
        raise ReportError("contact", "own: the seller's phone, handle or link, never yours")
    stored = redact_for_storage(text, name, contact)
    if not stored.text and not stored.establishment_name and not stored.contact:
        # the contact was a document number and nothing else ("DNI 41234567")
        raise ReportError("text", "describe what you saw, or give the place or seller contact")
    return ReportInput(kind=data.kind, ubigeo=code, text=stored.text, how=data.how,
                       occurred_on=data.occurred_on, establishment_name=stored.establishment_name,
                       contact=stored.contact, latitude=lat, longitude=lon, photo=data.photo)


@dataclass(frozen=True)
class StoredText:
    """A report's free-text fields as they are stored: redacted, with the seller's lead."""

    text: str
    establishment_name: str | None
    contact: str | None


def redact_for_storage(text: str, name: str | None, contact: str | None) -> StoredText:
    """The free-text fields of a report as they are stored (a new report's, and a stored one's
    again with ``centinela report redact-stored``, see :mod:`centinela.public.reredact`)."""
    if contact is not None:
        # The contact keeps its phone, e-mail, handle or link (to reach the number given) but
        # never an identity document ("yo mismo: Rosa, DNI 41234567, 999 888 777").
        contact = redact_contact(contact)
    if contact is None:
        # A seller's number written in the text (or typed with the place's name) is a lead:
        # keep it in the contact field (as the form asks) while the free text loses every phone
        # and document number. Only numbers the words tie to the seller count (privacy first).
        leads = lead_phones(text) or (lead_phones(name, default_owner="seller") if name else [])
        contact = leads[0] if leads else None
    # Every free-text field is redacted before storage (and so before an alert copies it).
    name = redact_text(name, default_owner="seller") if name else None
    return StoredText(text=redact_text(text), establishment_name=name, contact=contact)


_DOCUMENT_WORDS = frozenset("""dni ce ruc pasaporte passport documento document doc carne carnet
extranjeria nro n no numero number de del mi my su""".split())


def redact_contact(contact: str) -> str | None:
    """The ``contact`` field as it is stored: identity-document numbers (DNI, CE, passport, a
    person's RUC) replaced by their label, phones, e-mails, handles and links kept; None when
    nothing but a document was given. Idempotent."""
    redacted = redact_documents(contact.strip())
    rest = redacted
    for label in LABELS.values():
        rest = rest.replace(label, " ")
    left = [w for w in words(rest) if w not in _DOCUMENT_WORDS]
    return redacted if left else None


def redact_addition(text: str) -> str:
    """An addition's text as it is stored."""
    return redact_text(text)


def addition_lead(text: str) -> str | None:
    """The seller's phone in an addition's text (it fills an empty ``contact``), or None."""
    leads = lead_phones(text)  # a seller's number given later is still a lead
    return leads[0] if leads else None


def _new_report_id(session: Session, now: dt.datetime) -> str:
    while True:
        rid = f"CR-{now:%y%m}-{secrets.token_hex(3).upper()}"
        if not session.scalar(select(CitizenReport.id).where(CitizenReport.report_id == rid)):
            return rid


def _add_photo(session: Session, report_id: str, data: bytes, now: dt.datetime) -> ReportPhoto:
    clean = sanitize(data)
    photo = ReportPhoto(report_id=report_id, content=clean.content, media_type=clean.media_type,
                        sha256=clean.sha256, width=clean.width, height=clean.height,
                        created_at=now)
    session.add(photo)
    return photo


def submit(session: Session, data: ReportInput, channel: str,
           now: dt.datetime) -> tuple[CitizenReport, str]:
    """Store a report and return it with its follow-up code (shown once, never stored)."""
    if channel not in REPORT_CHANNELS:
        raise ReportError("channel", f"unknown channel {channel!r}")
    clean = validate(data, now)
    code = codes.new_code()
    est_id, link_score = link_establishment(session, clean.establishment_name, clean.ubigeo)
    report = CitizenReport(
        report_id=_new_report_id(session, now), code_hash=codes.code_hash(code), channel=channel,
        kind=clean.kind, how=clean.how, ubigeo=clean.ubigeo, department=clean.ubigeo[:2],
        latitude=clean.latitude, longitude=clean.longitude,
        establishment_name=clean.establishment_name, establishment_id=est_id,
        link_score=link_score, contact=clean.contact, contact_key=contact_key(clean.contact),
        occurred_on=clean.occurred_on, text=clean.text, status="received",
        created_at=now, updated_at=now,
    )
    session.add(report)
    session.flush()
    if clean.photo:
        _add_photo(session, report.report_id, clean.photo, now)
    session.add(ReportEvent(report_id=report.report_id, at=now, kind="created",
                            actor="reporter", to_status="received", public=True))
    session.flush()
    from centinela.public.escalation import escalate

    escalate(session, report, now)
    return report, code


def find_by_code(session: Session, code: str) -> CitizenReport | None:
    """Return the report of a follow-up code, or None (also for malformed codes)."""
    if not codes.looks_like_code(code):
        return None
    return session.scalar(
        select(CitizenReport).where(CitizenReport.code_hash == codes.code_hash(code))
    )


def public_status(session: Session, report: CitizenReport) -> dict:
    """Return what the reporter may see: status and public timeline (no analyst names)."""
    events = session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.report_id,
                                  ReportEvent.public.is_(True)).order_by(ReportEvent.at,
                                                                         ReportEvent.id)
    ).all()
    d = ref.get(report.ubigeo)
    return {
        "report_id": report.report_id,
        "status": report.status,
        "kind": report.kind,
        "district": f"{d.district}, {d.province}, {d.department}" if d else report.ubigeo,
        "received_on": report.created_at.date().isoformat(),
        "updated_on": report.updated_at.date().isoformat(),
        "timeline": [
            {"on": e.at.date().isoformat(), "kind": e.kind, "status": e.to_status,
             "note": e.text if e.kind in ("status", "note") else ""}
            for e in events
        ],
        "additions": sum(1 for e in events if e.kind == "info"),
    }


def add_info(session: Session, report: CitizenReport, text: str, photo: bytes | None,
             now: dt.datetime) -> ReportEvent:
    """Append the reporter's new information (text and/or photo) to the report."""
    settings = get_settings().public
    text = (text or "").strip()
    if not text and not photo:
        raise ReportError("text", "write the new information or attach a photo")
    if len(text) > settings.text_max_chars:
        raise ReportError("text", f"longer than {settings.text_max_chars} characters")
    count = session.scalar(select(func.count()).select_from(ReportEvent).where(
        ReportEvent.report_id == report.report_id, ReportEvent.kind == "info"))
    if count >= MAX_ADDITIONS:
        raise ReportError("text", "this report already has the maximum number of additions")
    if photo:
        _add_photo(session, report.report_id, photo, now)
    event = ReportEvent(report_id=report.report_id, at=now, kind="info", actor="reporter",
                        text=redact_addition(text), public=True)
    session.add(event)
    if report.contact is None and text:
        lead = addition_lead(text)
        if lead:
            report.contact, report.contact_key = lead, contact_key(lead)
    report.updated_at = now
    session.flush()
    from centinela.public.escalation import escalate

    escalate(session, report, now)
    return event
