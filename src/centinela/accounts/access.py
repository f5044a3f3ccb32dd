"""Police access to patient-level data: a request per case and patient, approved by an admin."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.accounts.models import AccessRequest, User
from centinela.accounts.service import AccountError
from centinela.lib.clock import utcnow
from centinela.privacy import DocumentError, pseudonymize, redact

DEFAULT_DAYS = 30
MAX_DAYS = 90


def request_access(session: Session, requester: User, case_number: str, reason: str,
                   patient: str, now: dt.datetime | None = None) -> AccessRequest:
    """File a request; ``patient`` is a typed document or PSN token, stored only as a pseudonym."""
    if requester.role != "police":
        raise AccountError("only police users request patient-level access")
    # The reason is free text shown to admins: a document number typed into it is never
    # stored (the patient is the request's pseudonymized subject).
    case_number, reason = case_number.strip(), redact(reason.strip())
    if len(case_number) < 3:
        raise AccountError("case_number: the investigation or fiscal case number is required")
    if len(reason) < 10:
        raise AccountError("reason: state why patient-level data is needed (10+ characters)")
    try:
        psn = pseudonymize(patient)
    except DocumentError as err:
        raise AccountError(f"patient: {err}") from None
    req = AccessRequest(requester=requester.username, case_number=case_number[:80],
                        reason=reason, patient_id=psn, status="pending",
                        requested_at=now or utcnow())
    session.add(req)
    session.flush()
    return req


def decide(session: Session, request_id: int, admin: User, approve: bool, days: int = DEFAULT_DAYS,
           note: str = "", now: dt.datetime | None = None) -> AccessRequest:
    """Approve (for ``days``) or deny a pending request."""
    if admin.role != "admin":
        raise AccountError("only an admin decides access requests")
    req = session.get(AccessRequest, request_id)
    if req is None:
        raise AccountError(f"access request {request_id} does not exist")
    if req.status != "pending":
        raise AccountError(f"access request {request_id} is already {req.status}")
    if not 1 <= days <= MAX_DAYS:
        raise AccountError(f"days: between 1 and {MAX_DAYS}")
    now = now or utcnow()
    req.status = "approved" if approve else "denied"
    req.decided_by, req.decided_at, req.decision_note = admin.username, now, note.strip()
    req.expires_at = now + dt.timedelta(days=days) if approve else None
    session.flush()
    return req


def active_grant(session: Session, user: User, patient_id: str,
                 now: dt.datetime | None = None) -> AccessRequest | None:
    """Return the approved, unexpired request that lets ``user`` see ``patient_id``, if any."""
    now = now or utcnow()
    return session.scalar(
        select(AccessRequest).where(
            AccessRequest.requester == user.username, AccessRequest.patient_id == patient_id,
            AccessRequest.status == "approved", AccessRequest.expires_at > now,
        ).order_by(AccessRequest.expires_at.desc()).limit(1)
    )


def granted_patients(session: Session, user: User, now: dt.datetime | None = None) -> set[str]:
    """Return the pseudonyms ``user`` holds an active grant for."""
    now = now or utcnow()
    return set(session.scalars(
        select(AccessRequest.patient_id).where(
            AccessRequest.requester == user.username, AccessRequest.status == "approved",
            AccessRequest.expires_at > now)
    ))
