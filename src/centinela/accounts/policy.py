"""Who may see what: the one table of page permissions and the data-scope rules.

Routes guard themselves with ``require_roles(*roles_for(page))``; the navigation shows each role
only the pages listed for it here, so the menu and the guards cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from centinela.accounts.models import User

# The one definition of each group of roles; web routes and pages import these.
ANALYSTS = ("admin", "national_analyst", "regional_analyst")
INVESTIGATORS = (*ANALYSTS, "police")  # analysts and the police (triage, EWS, seizures)
CLINICIANS = ("prescriber", "pharmacist")
NATIONAL = ("admin", "national_analyst")
INTAKE_ROLES = (*NATIONAL, "institution")  # who may submit files and batches
ONLINE_ROLES = (*NATIONAL, "police")
# Roles that may read patient-level data without a per-patient grant (audited every time).
PATIENT_LEVEL_ROLES = ("admin", "national_analyst", "regional_analyst")


@dataclass(frozen=True)
class Page:
    key: str
    path: str
    label: str  # i18n key
    roles: tuple[str, ...]  # () = everyone, signed in or not
    area: str = "core"


PAGES: tuple[Page, ...] = (
    Page("inbox", "/alerts", "nav.alerts", INVESTIGATORS),
    Page("cases", "/cases", "nav.cases", ANALYSTS),
    Page("citizen_reports", "/analista/reportes", "nav.citizen_reports", INVESTIGATORS),
    Page("map", "/map", "nav.map", INVESTIGATORS),
    Page("profiles", "/profiles", "nav.profiles", INVESTIGATORS),
    Page("imports", "/imports", "nav.imports", ("admin", "national_analyst")),
    Page("lookup", "/lookup", "nav.lookup", (*CLINICIANS, "delegate", "admin")),
    Page("delegates", "/delegados", "nav.delegates", CLINICIANS),
    Page("my_prescriptions", "/mis-recetas", "nav.my_prescriptions", ("prescriber",)),
    Page("access", "/access", "nav.access", ("police", "admin")),
    Page("admin", "/admin", "nav.admin", ("admin",)),
    # Pages of the other areas (their routers guard themselves; the menu only links).
    Page("ews", "/ews", "nav.ews", INVESTIGATORS, area="ews"),
    Page("online", "/online", "nav.online", ("admin", "national_analyst", "police"), area="online"),
    Page("certification", "/certification", "nav.certification", ANALYSTS, area="certification"),
    Page("my_certification", "/mi-certificacion", "nav.my_certification", CLINICIANS,
         area="certification"),
    Page("report", "/reportar", "nav.report", (), area="public"),
    Page("assistant", "/asistente", "nav.assistant", (), area="public"),
    Page("customs", "/customs", "nav.customs", ("admin", "customs"), area="customs"),
)
_BY_KEY = {p.key: p for p in PAGES}


def roles_for(key: str) -> tuple[str, ...]:
    """Return the roles allowed on page ``key``."""
    return _BY_KEY[key].roles


def may_open(user: User | None, key: str) -> bool:
    """Return True when ``user`` may open page ``key``."""
    roles = _BY_KEY[key].roles
    if not roles:
        return True
    return user is not None and user.role in roles


def nav_for(user: User | None) -> list[Page]:
    """Return the pages to show in the menu of ``user``."""
    return [p for p in PAGES if may_open(user, p.key)]


def department_scope(user: User) -> list[str] | None:
    """Return the departments ``user`` is limited to, or None for national reach."""
    if user.role == "regional_analyst":
        return list(user.departments or [])
    return None


def may_see_department(user: User, department: str | None) -> bool:
    """Return True when ``department`` (None = national subject) is inside the user's reach."""
    scope = department_scope(user)
    if scope is None:
        return True
    return department is not None and department in scope


def may_see_patient(session: Session, user: User, patient_id: str,
                    now: dt.datetime | None = None) -> bool:
    """Return True when ``user`` may read patient-level data of ``patient_id`` (a pseudonym)."""
    if user.role in PATIENT_LEVEL_ROLES:
        return True
    if user.role == "police":
        from centinela.accounts.access import active_grant

        return active_grant(session, user, patient_id, now) is not None
    return False
