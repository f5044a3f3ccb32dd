"""Demo users, one per role, for ``centinela demo`` and the browser tests."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.service import create_user, set_password

# (username, role, departments, professional_id, full name)
DEMO_USERS: tuple[tuple[str, str, list[str], str | None, str], ...] = (
    ("admin", "admin", [], None, "Administración DIGEMID"),
    ("analista", "national_analyst", [], None, "Analista nacional"),
    ("lima", "regional_analyst", ["15"], None, "Analista DIRIS Lima"),
    ("piura", "regional_analyst", ["20"], None, "Analista DIRESA Piura"),
    ("policia", "police", [], None, "PNP DIRANDRO"),
    ("medico", "prescriber", [], "CMP-000001", "Médico prescriptor"),
    ("farmacia", "pharmacist", [], "CQFP-00001", "Químico farmacéutico"),
    ("sistema", "institution", [], None, "Sistema de una institución"),
    ("tecnico", "delegate", [], None, "Técnico de farmacia, delegado de «farmacia»"),
    ("aduana", "customs", [], None, "Oficial de aduanas (SUNAT)"),
)
DEMO_PRINCIPAL = "farmacia"  # whom the demo delegate acts for


def seed_demo_users(session: Session, password: str | None = None,
                    professionals: dict[str, str] | None = None
                    ) -> list[tuple[str, str, str, str]]:
    """Create (or reset) one user per role; return (username, password, role, scope) rows.

    Without ``password`` each user gets a fresh random one, printed once by the caller.
    ``professionals`` maps a role (``prescriber``, ``pharmacist``) to the college number its
    demo user should carry, e.g. a real professional of the imported data.
    """
    out: list[tuple[str, str, str, str]] = []
    for username, role, deps, default_prof, name in DEMO_USERS:
        prof = (professionals or {}).get(role, default_prof)
        pw = password or secrets.token_urlsafe(9)
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            create_user(session, username, pw, role, departments_=deps, professional_id=prof,
                        full_name=name,
                        delegate_of=DEMO_PRINCIPAL if role == "delegate" else None)
        else:
            set_password(session, user, pw)
            user.active = True
            user.professional_id = prof
        scope = ", ".join(deps) if deps else (prof or "nacional")
        out.append((username, pw, role, scope))
    session.flush()
    return out
