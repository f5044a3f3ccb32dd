"""Accounts: argon2 passwords, validation, sign-in limits, tokens, police grants, demo users."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from centinela.accounts import access, service, tokens
from centinela.accounts.demo import seed_demo_users
from centinela.accounts.models import ROLES, AccessRequest, User
from centinela.accounts.policy import may_see_department, may_see_patient, nav_for
from centinela.privacy import pseudonymize


def test_passwords_are_argon2_hashed_and_checked(session, now):
    user = service.create_user(session, "Ana.Q", "una-clave-larga", "national_analyst", now=now)
    assert user.username == "ana.q" and user.password_hash.startswith("$argon2id$")
    assert "una-clave-larga" not in user.password_hash
    assert service.authenticate(session, "ana.q", "una-clave-larga", "10.0.0.1", now) is user
    assert service.authenticate(session, "ana.q", "otra-clave-xx", "10.0.0.1", now) is None
    assert service.authenticate(session, "nadie", "una-clave-larga", "10.0.0.1", now) is None


@pytest.mark.parametrize("kwargs,field", [
    (dict(username="x", password="una-clave-larga", role="admin"), "username"),
    (dict(username="ana", password="corta", role="admin"), "password"),
    (dict(username="ana", password="una-clave-larga", role="boss"), "role"),
    (dict(username="ana", password="una-clave-larga", role="regional_analyst"), "departments"),
    (dict(username="ana", password="una-clave-larga", role="regional_analyst",
          departments_=["99"]), "departments"),
    (dict(username="ana", password="una-clave-larga", role="prescriber"), "professional_id"),
])
def test_invalid_accounts_say_which_field(session, kwargs, field):
    with pytest.raises(service.AccountError) as err:
        service.create_user(session, **kwargs)
    assert str(err.value).startswith(field)


def test_inactive_users_cannot_sign_in(session, now):
    user = service.create_user(session, "ana", "una-clave-larga", "police", now=now)
    user.active = False
    assert service.authenticate(session, "ana", "una-clave-larga", "c", now) is None


def test_failures_expire_after_the_window(session, now):
    service.create_user(session, "ana", "una-clave-larga", "police", now=now)
    for _ in range(service.MAX_FAILURES_PER_USER):
        service.authenticate(session, "ana", "mala-clave-xx", "c", now)
    with pytest.raises(service.RateLimited):
        service.authenticate(session, "ana", "una-clave-larga", "c", now)
    later = now + service.FAILURE_WINDOW + dt.timedelta(seconds=1)
    assert service.authenticate(session, "ana", "una-clave-larga", "c", later) is not None


def test_tokens_are_shown_once_and_scoped(session, now):
    user = service.create_user(session, "his", "una-clave-larga", "institution", now=now)
    plain, row = tokens.create_token(session, user, "HIS", ["ingest"], now=now)
    assert plain.startswith("cnt_") and row.token_hash != plain and plain[:12] == row.prefix
    assert tokens.resolve_token(session, plain, now)[0] is user
    assert tokens.scope_allows(["ingest"], "POST", "/api/v1/movements")
    assert not tokens.scope_allows(["ingest"], "GET", "/api/v1/alerts")
    assert not tokens.scope_allows(["ingest"], "POST", "/api/v1/movementsX")
    assert tokens.scope_allows(["alerts:read"], "GET", "/api/v1/alerts/ALR-1")
    with pytest.raises(service.AccountError):
        tokens.create_token(session, user, "x", ["admin"], now=now)


def test_police_grant_lifecycle(session, now):
    cop = service.create_user(session, "cop", "una-clave-larga", "police", now=now)
    boss = service.create_user(session, "boss", "una-clave-larga", "admin", now=now)
    psn = pseudonymize("DNI:44556677")
    with pytest.raises(service.AccountError):
        access.request_access(session, cop, "C1", "motivo suficiente", "DNI:44556677", now)
    req = access.request_access(session, cop, "CF-1", "motivo suficiente", "DNI:44556677", now)
    assert req.patient_id == psn
    stored = " ".join(str(v) for v in session.scalars(select(AccessRequest)).one().__dict__.values())
    assert "44556677" not in stored
    assert not may_see_patient(session, cop, psn, now)
    with pytest.raises(service.AccountError):
        access.decide(session, req.id, cop, True, now=now)
    access.decide(session, req.id, boss, True, days=10, now=now)
    assert may_see_patient(session, cop, psn, now + dt.timedelta(days=9))
    assert not may_see_patient(session, cop, psn, now + dt.timedelta(days=10))
    with pytest.raises(service.AccountError):
        access.decide(session, req.id, boss, False, now=now)


def test_demo_users_cover_every_role_and_regions(session):
    rows = seed_demo_users(session)
    assert {r[2] for r in rows} == set(ROLES)
    scopes = {r[0]: r[3] for r in rows}
    assert scopes["lima"] == "15" and scopes["piura"] == "20"
    assert len({r[1] for r in rows}) == len(rows)  # fresh random passwords
    again = seed_demo_users(session, password="otra-clave-demo")
    assert len(session.scalars(select(User)).all()) == len(again)
    lima = session.scalar(select(User).where(User.username == "lima"))
    assert may_see_department(lima, "15") and not may_see_department(lima, "20")
    assert not may_see_department(lima, None)
    assert [p.key for p in nav_for(None)] == ["report", "assistant"]
