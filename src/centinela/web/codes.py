"""Stored codes (specialties, risk factors, channels…) in the reader's language.

Used by the alert evidence, by every list that shows a stored summary and by the audit log's
page (an entry's subject, reason and details); it depends only on the catalogues, the
formatting helpers and the reference names, so all of them can import it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from centinela.reference.ubigeo import departments
from centinela.web.fmt import format_date
from centinela.web.i18n import catalogs, detector_label, translate

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# The Spanish parts of the peer-group labels detectors write ("general_medicine · dispensación ·
# departamento 05"): each part is matched whole, so free text is never rewritten.
PEER_PARTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key) for pattern, key in (
        (r"dispensación", "peer.dispensing"),
        (r"dispensación ≤ (?P<days>\d+) días", "peer.short_supply"),
        (r"administración hospitalaria", "peer.hospital"),
        (r"departamento (?P<department>\d{2})", "peer.department"),
        (r"nacional", "peer.national"),
        (r"todos los prescriptores", "peer.all_prescribers"),
        (r"sin especialidad", "peer.no_specialty"),
    ))


def peer_part(text: str, lang: str) -> str | None:
    """One part of a peer-group label in ``lang`` (a department by its name), or None."""
    for pattern, key in PEER_PARTS:
        m = pattern.fullmatch(text)
        if m:
            params = m.groupdict()
            if "department" in params:  # an INEI code: its name
                params["department"] = departments().get(params["department"],
                                                         params["department"])
            return translate(key, lang, **params)
    return None


def code(value: object, lang: str) -> str:
    """Translate a stored code (specialty, risk factor, channel…) or snake_case tokens in text."""
    text = str(value)
    if ISO_DAY.fullmatch(text):
        return format_date(text, lang)
    if " · " in text:
        return " · ".join(code(part, lang) for part in text.split(" · "))
    cats = catalogs()
    key = "code." + text
    if key in cats["es"]:
        return translate(key, lang)
    said = peer_part(text, lang)
    if said is not None:
        return said
    return SNAKE.sub(lambda m: translate("code." + m.group(0), lang)
                     if "code." + m.group(0) in cats["es"] else m.group(0).replace("_", " "), text)


def humanize(value: str) -> str:
    """A code in words when no label is known yet (``batches_written`` → "batches written")."""
    return value.replace("_", " ").strip()


def label(prefix: str, value: object, lang: str) -> str:
    """The catalogue label ``prefix + value`` in ``lang``, or the code in words when a newer code
    has none yet (a page never shows a missing key, nor breaks)."""
    text = str(value)
    key = prefix + text
    return translate(key, lang) if key in catalogs()["es"] else humanize(text)


# ---------------------------------------------------------------- audit entries

# Keys of an audit entry's details whose value is a code with its own catalogue prefixes: a
# user's role, an alert's (or a citizen report's) status before and after, a case's outcome or a
# customs review's, a re-redaction's mode, a channel's kind or an early-warning signal's, …
_STATUS = ("status.", "pub.status.")
DETAIL_PREFIXES: dict[str, tuple[str, ...]] = {
    "role": ("role.",), "from": _STATUS, "to": _STATUS, "status": _STATUS,
    "outcome": ("outcome.", "customs.status."), "mode": ("audit.mode.",),
    "kind": ("channel.", "ews.kind."), "channel": ("channel.",), "severity": ("severity.",),
    "scopes": ("scope.",), "subject_kind": ("kind.",)}
_DEPARTMENT_KEYS = ("department", "departments")


def detail_key(key: str, lang: str) -> str:
    """The name of a key of an audit entry's details (``token_id`` → "token de API n.º")."""
    return label("audit.key.", key, lang)


def detail(key: str, value: object, lang: str) -> str:
    """One value of an audit entry's details in the reader's language.

    A role (``"role": "regional_analyst"``), a status, an outcome or a mode by its name, a string
    that is exactly a stored code by its label, a department by its name, yes/no for a flag,
    each item of a list and each entry of a mapping alike; numbers and ids as stored (nothing as
    "—"). Unlike :func:`code`, free text is never rewritten: an underscore in a file name or a
    username stays as it is.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return translate("common.yes" if value else "common.no", lang)
    if isinstance(value, list | tuple):
        return ", ".join(detail(key, v, lang) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{detail_key(str(k), lang)}: {detail(str(k), v, lang)}"
                         for k, v in value.items()) or "—"
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if key == "filters" and "=" in value:  # an inbox export's filters, as a query string
        return ", ".join(f"{detail_key(k, lang)}: {detail(k, v, lang)}"
                         for k, v in parse_qsl(value))
    if key in _DEPARTMENT_KEYS and value in departments():
        return f"{departments()[value]} ({value})"
    if key == "detector":
        return detector_label(value, lang)
    if key == "substance":
        from centinela.ews.registry import registry

        known = registry().by_key_id
        if value in known:
            return str(known[value].display_name(lang))
    es = catalogs()["es"]
    for k in (*(prefix + value for prefix in DETAIL_PREFIXES.get(key, ())), "code." + value):
        if k in es:
            return translate(k, lang)
    return humanize(value) if key in DETAIL_PREFIXES else value  # a newer code, in words


# The subject of an entry: a word the code writes ("outbox", "national"), or a kind of record and
# its id ("alert:ALR-1", "case:CEN-2026-000001", "import:12", "reports R-1..R-9").
_TYPED_SUBJECT = re.compile(r"(?P<kind>alert|case|import):(?P<id>.+)"
                            r"|(?P<many>reports|alerts) (?P<range>\S+\.\.\S+)", re.S)
# Actions whose subject is a code: the status of the reports listed; the department read
# (else "national").
_SUBJECT_PREFIXES = {"citizen_report.list": "pub.status."}
_DEPARTMENT_SUBJECTS = ("ews.signals.read", "ews.export")


def subject(action: str, value: str, lang: str) -> str:
    """An audit entry's subject in the reader's language (ids and usernames as stored)."""
    es = catalogs()["es"]
    if "audit.subject." + value in es:
        return translate("audit.subject." + value, lang)
    m = _TYPED_SUBJECT.fullmatch(value)
    if m:
        kind, ident = (m["kind"], m["id"]) if m["kind"] else (m["many"], m["range"])
        return f"{translate('audit.subject.' + kind, lang)} {ident}"
    if action in _DEPARTMENT_SUBJECTS:
        return detail("department", value, lang)
    if action in _SUBJECT_PREFIXES:
        return label(_SUBJECT_PREFIXES[action], value, lang)
    return value


def actor(value: str, lang: str) -> str:
    """Who acted: a username as stored, the command line in words."""
    key = "audit.actor." + value
    return translate(key, lang) if key in catalogs()["es"] else value


# English sentences the code stores (an audit entry's reason, a channel's disabled reason) →
# catalogue keys; the parts in groups (a case number, a note, a username) are kept as written.
SENTENCES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.S), key) for pattern, key in (
        (r"case (?P<number>.+?):(?: (?P<text>.*))?", "audit.reason.case"),
        (r"case detail", "audit.reason.case_detail"),
        (r"alert detail", "audit.reason.alert_detail"),
        (r"patient profile", "audit.reason.patient_profile"),
        (r"printed report", "audit.reason.printed_report"),
        (r"movements download", "audit.reason.movements_download"),
        (r"csv", "audit.reason.csv"),
        (r"json", "audit.reason.json"),
        (r"stored citizen reports re-redacted with the current redactor",
         "audit.reason.reredacted"),
        (r"disabled by an operator", "admin.disabled_by_operator"),
        (r"disabled by (?P<user>\S+)", "admin.disabled_by"),
        (r"permanent: (?P<detail>.*)", "admin.disabled_permanent"),
    ))
# A reason that starts with a code ("new_prescription: control", a patient lookup's reason).
_LEADING_CODE = re.compile(r"(?P<code>[a-z]+(?:_[a-z]+)+)(?:: (?P<text>.*))?", re.S)
_REASON_PREFIXES = ("lookup.reason_", "code.")


def sentence(text: str, lang: str) -> str:
    """A stored reason in the reader's language: a sentence the code writes by its catalogue
    entry, a leading reason code by its label, a date in the reader's style; free text (a note,
    a file name) as written."""
    if not text:
        return text
    if ISO_DAY.fullmatch(text):
        return format_date(text, lang)
    for pattern, key in SENTENCES:
        m = pattern.fullmatch(text)
        if m:
            return translate(key, lang, **{k: v or "" for k, v in m.groupdict().items()}).strip()
    m = _LEADING_CODE.fullmatch(text)
    es = catalogs()["es"]
    if m:
        for prefix in _REASON_PREFIXES:
            if prefix + m["code"] in es:
                said = translate(prefix + m["code"], lang)
                return f"{said}: {m['text']}" if m["text"] else said
    return text
