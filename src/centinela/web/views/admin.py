"""Admin: users and roles, API tokens, police access requests, authorities and channels, audit."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import ROLES, TOKEN_SCOPES, AccessRequest, ApiToken, User
from centinela.alerts.models import Authority, Channel
from centinela.web.views.common import lima_iso

AUDIT_PAGE = 100


class UserRow(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    departments: list[str]
    professional_id: str | None
    active: bool
    created_at: str | None
    # The college number is not in the professionals registry, or is registered with another
    # role ("" when it is fine or there is no registry yet): a typo to check.
    registry_issue: str = ""


class TokenRow(BaseModel):
    id: int
    username: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: str | None
    expires_at: str | None
    revoked: bool
    last_used_at: str | None


class AccessRow(BaseModel):
    id: int
    requester: str
    case_number: str
    reason: str
    patient_id: str
    status: str
    requested_at: str | None
    decided_by: str | None
    expires_at: str | None


class ChannelRow(BaseModel):
    id: int
    kind: str
    target: str
    enabled: bool
    disabled_reason: str | None


class AuthorityRow(BaseModel):
    authority_id: str
    name: str
    kind: str
    departments: list[str]
    topics: list[str]
    min_severity: str
    active: bool
    channels: list[ChannelRow]


class AuditRow(BaseModel):
    id: int
    at: str | None
    actor: str
    action: str
    subject: str
    reason: str
    details: dict


class UsersContext(BaseModel):
    users: list[UserRow]
    tokens: list[TokenRow]
    roles: list[str]
    scopes: list[str]


class AccessContext(BaseModel):
    requests: list[AccessRow]


class AuthoritiesContext(BaseModel):
    authorities: list[AuthorityRow]
    failed_deliveries: int = 0  # gave up after the last attempt; re-queue from the page or CLI


class AuditContext(BaseModel):
    entries: list[AuditRow]
    total: int
    before: int | None
    chain_ok: bool
    first_bad_id: int | None
    actor: str
    action: str


def registry_issues(session: Session, users) -> dict[int, str]:
    """User id → ``"unregistered"`` or ``"other_role"`` for the prescriber and pharmacist
    accounts whose college number the professionals registry does not hold, or holds with
    another role; nothing while no registry is imported."""
    from centinela.registry.models import Professional

    ids = sorted({u.professional_id for u in users if u.professional_id})
    if not ids or session.scalar(select(Professional.professional_id).limit(1)) is None:
        return {}
    roles = dict(session.execute(select(Professional.professional_id, Professional.role)
                                 .where(Professional.professional_id.in_(ids))).all())
    out = {}
    for u in users:
        if not u.professional_id:
            continue
        role = roles.get(u.professional_id)
        if role is None:
            out[u.id] = "unregistered"
        elif role != u.role:
            out[u.id] = "other_role"
    return out


def build_users(session: Session) -> UsersContext:
    """Return every user and API token."""
    users = session.scalars(select(User).order_by(User.username)).all()
    names = {u.id: u.username for u in users}
    issues = registry_issues(session, users)
    tokens = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    return UsersContext(
        users=[UserRow(id=u.id, username=u.username, full_name=u.full_name, role=u.role,
                       departments=list(u.departments or []), professional_id=u.professional_id,
                       active=u.active, created_at=lima_iso(u.created_at),
                       registry_issue=issues.get(u.id, "")) for u in users],
        tokens=[TokenRow(id=t.id, username=names.get(t.user_id, "?"), name=t.name,
                         prefix=t.prefix, scopes=list(t.scopes or []),
                         created_at=lima_iso(t.created_at), expires_at=lima_iso(t.expires_at),
                         revoked=t.revoked_at is not None, last_used_at=lima_iso(t.last_used_at))
                for t in tokens],
        roles=list(ROLES), scopes=list(TOKEN_SCOPES))


def access_rows(session: Session, requester: str | None = None) -> AccessContext:
    """Return access requests (all, or one requester's), newest first."""
    q = select(AccessRequest).order_by(AccessRequest.id.desc()).limit(500)
    if requester is not None:
        q = q.where(AccessRequest.requester == requester)
    return AccessContext(requests=[
        AccessRow(id=r.id, requester=r.requester, case_number=r.case_number, reason=r.reason,
                  patient_id=r.patient_id, status=r.status, requested_at=lima_iso(r.requested_at),
                  decided_by=r.decided_by, expires_at=lima_iso(r.expires_at))
        for r in session.scalars(q)])


def build_authorities(session: Session) -> AuthoritiesContext:
    """Return authorities with their channels (webhook secrets never shown)."""
    chans: dict[str, list[ChannelRow]] = {}
    for c in session.scalars(select(Channel).order_by(Channel.id)):
        chans.setdefault(c.authority_id, []).append(ChannelRow(
            id=c.id, kind=c.kind, target=c.target, enabled=c.enabled,
            disabled_reason=c.disabled_reason))
    from centinela.alerts.models import Delivery

    failed = session.scalar(select(func.count()).select_from(Delivery)
                            .where(Delivery.status == "failed")) or 0
    return AuthoritiesContext(failed_deliveries=failed, authorities=[
        AuthorityRow(authority_id=a.authority_id, name=a.name, kind=a.kind,
                     departments=list(a.departments or []), topics=list(a.topics or []),
                     min_severity=a.min_severity, active=a.active,
                     channels=chans.get(a.authority_id, []))
        for a in session.scalars(select(Authority).order_by(Authority.authority_id))])


def build_audit(session: Session, actor: str = "", action: str = "",
                before: int | None = None) -> AuditContext:
    """Return a page of the audit log (newest first) and the result of verifying the chain."""
    q = select(audit.AuditEntry)
    if actor:
        q = q.where(audit.AuditEntry.actor == actor)
    if action:
        q = q.where(audit.AuditEntry.action == action)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    if before:
        q = q.where(audit.AuditEntry.id < before)
    rows = session.scalars(q.order_by(audit.AuditEntry.id.desc()).limit(AUDIT_PAGE)).all()
    from centinela.auditsign import verify_all

    verdict = verify_all(session)
    ok, bad = verdict.ok, verdict.bad_id
    return AuditContext(
        entries=[AuditRow(id=e.id, at=lima_iso(e.at), actor=e.actor, action=e.action,
                          subject=e.subject, reason=e.reason, details=e.details or {})
                 for e in rows],
        total=total, before=rows[-1].id if len(rows) == AUDIT_PAGE else None, chain_ok=ok,
        first_bad_id=bad, actor=actor, action=action)


def audit_actions(session: Session) -> list[str]:
    """Every action the audit log holds (the page's action filter offers them by name)."""
    return sorted(session.scalars(select(audit.AuditEntry.action).distinct()))
