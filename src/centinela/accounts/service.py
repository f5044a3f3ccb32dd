"""Users: creation, argon2 password checks and sign-in with rate limiting."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from centinela.accounts.models import ROLES, LoginAttempt, User
from centinela.lib.clock import utcnow
from centinela.privacy import client_hash
from centinela.reference.ubigeo import departments

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
_PROFESSIONAL = re.compile(r"^(CMP|COP|CQFP|CEP)-\d{3,8}$")

MIN_PASSWORD = 12
_COMMON = Path(__file__).parent / "data" / "common_passwords.txt"


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def check_password_policy(password: str, username: str = "") -> None:
    """Refuse a short, common or trivially guessable password (raises AccountError)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    low = password.lower()
    if low in _common_passwords():
        raise AccountError("password: too common (it is in the list of leaked passwords)")
    if len(set(low)) < 4:
        raise AccountError("password: too few distinct characters")
    if low.isdigit() and (low in "01234567890123456789" or low in "98765432109876543210"):
        raise AccountError("password: a run of digits is guessed at once")
    if username and len(username) >= 3 and username.lower() in low:
        raise AccountError("password: must not contain the username")
# Failed sign-ins tolerated inside the window, per username and per client.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = dt.timedelta(minutes=15)
# A hash checked when the username is unknown, so that timing does not reveal which exist.
_dummy: dict[int, str] = {}


class AccountError(ValueError):
    """Invalid account data; the message says which field and why."""


class RateLimited(Exception):
    """Too many failed sign-ins for this username or client; retry later."""


def _dummy_hash() -> str:
    if id(_hasher) not in _dummy:
        _dummy[id(_hasher)] = _hasher.hash("centinela-dummy-password")
    return _dummy[id(_hasher)]


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    """Return True when ``password`` matches ``stored_hash``."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, password: str, role: str, *,
                departments_: list[str] | None = None, professional_id: str | None = None,
                full_name: str = "", now: dt.datetime | None = None,
                delegate_of: str | None = None) -> User:
    """Validate and add a user (caller commits)."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise AccountError("username: 3-80 characters, lower-case letters, digits, . _ -")
    if role not in ROLES:
        raise AccountError(f"role: must be one of {', '.join(ROLES)}")
    check_password_policy(password, username)
    deps = sorted({d.strip().zfill(2) for d in (departments_ or []) if d.strip()})
    unknown = [d for d in deps if d not in departments()]
    if unknown:
        raise AccountError(f"departments: unknown INEI department code(s) {', '.join(unknown)}")
    if role == "regional_analyst" and not deps:
        raise AccountError("departments: a regional analyst needs at least one department")
    if role in ("prescriber", "pharmacist"):
        if not professional_id or not _PROFESSIONAL.match(professional_id):
            raise AccountError("professional_id: college number like CMP-012345 or CQFP-01234")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username: {username!r} already exists")
    if (role == "delegate") != bool(delegate_of):
        raise AccountError("role: a delegate is created by its prescriber or pharmacist "
                           "(create_delegate), and only a delegate has a principal")
    user = User(
        username=username, full_name=full_name, password_hash=hash_password(password), role=role,
        departments=deps if role == "regional_analyst" else [],
        professional_id=professional_id if role in ("prescriber", "pharmacist") else None,
        delegate_of=delegate_of, active=True, created_at=now or utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace the user's password (which also ends their open sessions)."""
    from centinela.accounts.sessions import revoke_user_sessions

    check_password_policy(password, user.username)
    user.password_hash = hash_password(password)
    revoke_user_sessions(session, user.id, "password changed")
    session.flush()


def _keys(username: str, client: str) -> tuple[str, str]:
    return ("u:" + client_hash(username.strip().lower(), "login-user")[:30],
            "c:" + client_hash(client, "login-client")[:30])


def _failures(session: Session, key: str, since: dt.datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(LoginAttempt)
        .where(LoginAttempt.key == key, LoginAttempt.at >= since, LoginAttempt.ok.is_(False))
    ) or 0


def authenticate(session: Session, username: str, password: str, client: str,
                 now: dt.datetime | None = None) -> User | None:
    """Return the active user for these credentials, None if wrong; raise RateLimited.

    ``client`` is the caller's address; only a keyed hash of it is stored.
    """
    now = now or utcnow()
    user_key, client_key = _keys(username, client)
    since = now - FAILURE_WINDOW
    if (_failures(session, user_key, since) >= MAX_FAILURES_PER_USER
            or _failures(session, client_key, since) >= MAX_FAILURES_PER_CLIENT):
        raise RateLimited("too many failed sign-ins; try again in 15 minutes")
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    ok = check_password(user.password_hash if user else _dummy_hash(), password)
    ok = ok and user is not None and user.active
    for key in (user_key, client_key):
        session.add(LoginAttempt(key=key, at=now, ok=ok))
    if ok and user is not None:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        # A success clears this username's failures so a typo streak does not lock it out.
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == user_key,
                                                   LoginAttempt.ok.is_(False)))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - dt.timedelta(days=1)))
    session.flush()
    return user if ok else None


def create_delegate(session: Session, principal: User, username: str, password: str,
                    full_name: str = "", now: dt.datetime | None = None) -> User:
    """A prescriber or pharmacist authorises a delegate account for lookups on their behalf."""
    if principal.role not in ("prescriber", "pharmacist") or not principal.active:
        raise AccountError("only an active prescriber or pharmacist may authorise a delegate")
    return create_user(session, username, password, "delegate", full_name=full_name, now=now,
                       delegate_of=principal.username)


def active_principal(session: Session, delegate: User) -> User | None:
    """The prescriber or pharmacist a delegate acts for, if that delegation still holds."""
    if delegate.role != "delegate" or not delegate.active or not delegate.delegate_of:
        return None
    principal = session.scalar(select(User).where(User.username == delegate.delegate_of))
    if principal is None or not principal.active or principal.role not in ("prescriber",
                                                                           "pharmacist"):
        return None
    return principal
