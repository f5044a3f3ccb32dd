"""Numbered cases built from alerts: open, assign, set a due date, note, link alerts, attach
files, close with an outcome (which closes the linked alerts with it), reopen.

Every change is a ``case_entries`` row and an entry in the hash-chained audit log. Errors are
``CaseFileError`` with a catalogue key (the page shows it in the user's language) and an
English message (the API and logs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centinela import audit
from centinela.alerts.case_models import Case, CaseAlert, CaseAttachment, CaseEntry
from centinela.alerts.cases import act
from centinela.alerts.models import OUTCOMES, Alert
from centinela.config import get_settings
from centinela.privacy import redact

ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024  # under the 8 MB request-body limit
# extension → (content type, leading bytes it must start with; None: text that must decode)
ATTACHMENT_TYPES: dict[str, tuple[str, bytes | None]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "txt": ("text/plain", None),
    "csv": ("text/csv", None),
}
# Letters of any script, digits, spaces and the punctuation names carry ("Acta Nº 12 – Cusco");
# never path separators, control characters or quotes.
_SAFE_NAME = re.compile(r"[^\w .,()ºª°–—#-]+")


class CaseFileError(ValueError):
    """A case change that is not allowed; ``key`` is the catalogue key shown on the page."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC).replace(tzinfo=None)


def next_number(session: Session, now: dt.datetime) -> str:
    """Return the next human case number of ``now``'s year, e.g. ``CEN-2026-000123``."""
    prefix = f"CEN-{now.year}-"
    last = session.scalar(select(func.max(Case.number)).where(Case.number.like(prefix + "%")))
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


def _log(session: Session, case: Case, actor: str, kind: str, text: str,
         now: dt.datetime, details: dict | None = None) -> None:
    text = redact(text)  # a document number typed into a note is never stored
    session.add(CaseEntry(case_id=case.id, at=now, actor=actor, kind=kind, text=text))
    case.updated_at = now
    audit.record(session, actor, f"casefile.{kind}", f"case:{case.number}", reason=text[:500],
                 details=details or {}, now=now)


def case_of_alert(session: Session, alert_id: str) -> Case | None:
    """Return the case an alert is linked to, if any."""
    return session.scalar(select(Case).join(CaseAlert, CaseAlert.case_id == Case.id)
                          .where(CaseAlert.alert_id == alert_id))


TITLE_MAX = 200  # Case.title


def case_title(summary: str, limit: int = TITLE_MAX) -> str:
    """A case's title from its first alert's summary: whole, or cut at the last word that fits
    with an ellipsis (never in the middle of a word or a number)."""
    text = " ".join((summary or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,;:·-–—(") + "…"


def open_case(session: Session, alert: Alert, actor: str, assignee: str | None = None,
              due_date: dt.date | None = None, now: dt.datetime | None = None) -> Case:
    """Open a numbered case from ``alert`` (or return the case it already belongs to)."""
    now = _now(now)
    existing = case_of_alert(session, alert.alert_id)
    if existing is not None:
        return existing
    for attempt in range(5):  # two analysts opening cases at once may draw the same number
        case = Case(number=next_number(session, now), title=case_title(alert.summary),
                    department=alert.department, assignee=assignee or actor, created_by=actor,
                    due_date=due_date or (now + dt.timedelta(days=30)).date(), status="open",
                    created_at=now, updated_at=now)
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
            break
        except IntegrityError:
            if attempt == 4:
                raise
    session.add(CaseAlert(case_id=case.id, alert_id=alert.alert_id, linked_at=now,
                          linked_by=actor))
    _log(session, case, actor, "open", alert.alert_id, now,
         {"alert": alert.alert_id, "assignee": case.assignee})
    session.flush()
    return case


def link_alert(session: Session, case: Case, alert: Alert, actor: str,
               now: dt.datetime | None = None) -> None:
    """Link another alert to an open case."""
    now = _now(now)
    _require_open(case)
    other = case_of_alert(session, alert.alert_id)
    if other is not None:
        if other.id == case.id:
            return
        raise CaseFileError("casefile.error_linked",
                            f"alert {alert.alert_id} already belongs to case {other.number}")
    session.add(CaseAlert(case_id=case.id, alert_id=alert.alert_id, linked_at=now,
                          linked_by=actor))
    _log(session, case, actor, "link", alert.alert_id, now, {"alert": alert.alert_id})
    session.flush()


def _require_open(case: Case) -> None:
    if case.status != "open":
        raise CaseFileError("casefile.error_closed", f"case {case.number} is closed")


def update(session: Session, case: Case, actor: str, assignee: str | None = None,
           due_date: dt.date | None = None, note: str = "",
           now: dt.datetime | None = None) -> None:
    """Change the assignee and due date and/or add a note (only what changed is logged)."""
    now = _now(now)
    if assignee is not None and assignee != (case.assignee or ""):
        case.assignee = assignee or None
        _log(session, case, actor, "assign", assignee or "—", now, {"assignee": assignee})
    if due_date is not None and due_date != case.due_date:
        case.due_date = due_date
        _log(session, case, actor, "due", due_date.isoformat(), now)
    if note.strip():
        _log(session, case, actor, "note", note.strip()[:4000], now)
    session.flush()


def close(session: Session, case: Case, actor: str, outcome: str | None, note: str = "",
          now: dt.datetime | None = None) -> None:
    """Close the case with an outcome; its open alerts are closed with the same outcome."""
    now = _now(now)
    _require_open(case)
    if outcome not in OUTCOMES:
        raise CaseFileError("casefile.error_outcome",
                            f"closing a case needs an outcome: {', '.join(OUTCOMES)}")
    for alert in linked_alerts(session, case):
        if alert.status != "closed":
            act(session, alert.alert_id, "close", actor, note.strip()[:4000] or case.number,
                outcome, now=now)
    case.status, case.outcome, case.closed_at = "closed", outcome, now
    _log(session, case, actor, "close", note.strip()[:4000], now, {"outcome": outcome})
    session.flush()


def reopen(session: Session, case: Case, actor: str, now: dt.datetime | None = None) -> None:
    """Reopen a closed case (its outcome is cleared; linked alerts stay as they are)."""
    now = _now(now)
    if case.status != "closed":
        raise CaseFileError("casefile.error_open", f"case {case.number} is not closed")
    case.status, case.outcome, case.closed_at = "open", None, None
    _log(session, case, actor, "reopen", "", now)
    session.flush()


def linked_alerts(session: Session, case: Case) -> list[Alert]:
    """Return the alerts of a case, highest score first."""
    return list(session.scalars(
        select(Alert).join(CaseAlert, CaseAlert.alert_id == Alert.alert_id)
        .where(CaseAlert.case_id == case.id).order_by(Alert.score.desc(), Alert.id)))


def entries(session: Session, case: Case) -> list[CaseEntry]:
    """Return the case log, oldest first."""
    return list(session.scalars(select(CaseEntry).where(CaseEntry.case_id == case.id)
                                .order_by(CaseEntry.at, CaseEntry.id)))


def attachments(session: Session, case: Case) -> list[CaseAttachment]:
    """Return the files of a case, oldest first."""
    return list(session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                                .order_by(CaseAttachment.id)))


def files_dir() -> Path:
    """Return the folder holding attachment contents (``<data_dir>/case-files``)."""
    base = Path(get_settings().data_dir or ".")
    return base / "case-files"


def _stored_path(sha: str) -> Path:
    return files_dir() / sha[:2] / sha


def clean_filename(name: str) -> str:
    """Return a file name safe to store and to send back (no folders, no odd characters)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base).strip(" .")
    return base[-120:] or "archivo"


def attach(session: Session, case: Case, actor: str, filename: str, data: bytes,
           now: dt.datetime | None = None) -> CaseAttachment:
    """Store a file for the case after checking its size, extension and first bytes."""
    now = _now(now)
    name = clean_filename(filename)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ATTACHMENT_TYPES:
        raise CaseFileError("casefile.error_type",
                            f"file type .{ext} not allowed; use {', '.join(ATTACHMENT_TYPES)}")
    if not data:
        raise CaseFileError("casefile.error_empty", "the file is empty")
    if len(data) > ATTACHMENT_MAX_BYTES:
        raise CaseFileError("casefile.error_size",
                            f"the file is larger than {ATTACHMENT_MAX_BYTES // 1_048_576} MB")
    ctype, magic = ATTACHMENT_TYPES[ext]
    if magic is not None and not data.startswith(magic):
        raise CaseFileError("casefile.error_content", f"the content is not a .{ext} file")
    if magic is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise CaseFileError("casefile.error_content",
                                f"the content is not UTF-8 text (.{ext})") from None
    sha = hashlib.sha256(data).hexdigest()
    path = _stored_path(sha)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    att = CaseAttachment(case_id=case.id, filename=name, content_type=ctype, size=len(data),
                         sha256=sha, uploaded_by=actor, uploaded_at=now)
    session.add(att)
    _log(session, case, actor, "attach", name, now, {"sha256": sha, "size": len(data)})
    session.flush()
    return att


def read_attachment(session: Session, case: Case, att: CaseAttachment, actor: str,
                    now: dt.datetime | None = None) -> bytes:
    """Return a file's bytes; every download is audit-logged."""
    now = _now(now)
    data = _stored_path(att.sha256).read_bytes()
    audit.record(session, actor, "casefile.download", f"case:{case.number}",
                 reason=att.filename, details={"attachment": att.id, "sha256": att.sha256},
                 now=now)
    return data
