"""Parsers of single field values; each raises ``Invalid(field, reason)`` with a clear reason.

Reasons are Spanish first, then English, and never echo a patient document.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import re

from centinela.config import get_settings

try:  # OpenSSL's HMAC object itself: its copy() is C, hmac.HMAC.copy() is Python
    from _hashlib import hmac_new as _hmac_new
except ImportError:  # pragma: no cover - CPython without OpenSSL
    def _hmac_new(key: bytes, msg: bytes, digest: str):
        return hmac.new(key, msg, digest)
from centinela.lib.clock import UTC_OFFSET, to_utc
from centinela.privacy import DocumentError, pseudonymize, redact, safe_name

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
# ASCII digits only: float() also accepts Arabic-Indic, fullwidth and other Unicode digits.
_NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$")
MAX_MAGNITUDE = 1e12  # above any real count or mass in mg (10^12 mg = 1,000 t)


class Invalid(Exception):
    """A field value that breaks the reporting format."""

    def __init__(self, field: str | None, reason: str) -> None:
        safe = safe_name(field) if field else field
        if field and safe != field:  # a column or key that looks like a document number
            reason = reason.replace(field, safe)
        if safe and (len(safe) > 60 or not safe.isprintable()):
            short = printable(safe[:40]) + ("…" if len(safe) > 40 else "")
            reason, safe = reason.replace(safe, short), short
        reason = redact(reason)
        reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "…"
        super().__init__(reason)
        self.field = safe
        self.reason = reason


def unforeseen(exc: BaseException) -> str:
    """Reason for a value no parser foresaw (the exception's type only: it may quote data)."""
    return f"valor no procesable / unprocessable value ({type(exc).__name__})"


def show(value: str, limit: int = 40) -> str:
    """Quote a bad value for a message (shortened, document numbers redacted)."""
    v = value if len(value) <= limit else value[:limit] + "…"
    return "'" + redact(printable(v)) + "'"


def printable(text: str) -> str:
    """Replace control and other non-printable characters (binary input) by ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


MAX_REASON = 400  # a reason names a field and quotes at most a short value


_ISO_LAYOUT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
                         r"(?:Z|[+-]\d{2}:?\d{2})?$")


def parse_time(field: str, value: str) -> dt.datetime:
    """Parse an ISO 8601 time; no offset means America/Lima. Return naive UTC."""
    if len(value) == 25 and value.endswith("-05:00") and value[10] == "T":
        try:  # the common case, Lima's own offset, without building a tz-aware datetime
            return dt.datetime.fromisoformat(value[:19]) - UTC_OFFSET
        except (ValueError, OverflowError):
            pass
    try:
        if len(value) < 16 or value[4] != "-" or value[7] != "-" or value[10] not in "T ":
            raise ValueError
        d = dt.datetime.fromisoformat(value)
    except ValueError:
        if _ISO_LAYOUT.match(value):  # the layout is right, the calendar or clock is not
            raise Invalid(field, f"fecha u hora imposible / impossible date or time: "
                                 f"{show(value)} (día del mes, mes 1-12, hora 00-23, minutos y "
                                 "segundos 00-59 / day of the month, month 1-12, hour 00-23, "
                                 "minutes and seconds 00-59)") from None
        raise Invalid(field, f"fecha y hora no válida / not an ISO 8601 date and time: {show(value)}"
                      " (ej. 2025-03-14T09:30:00-05:00)") from None
    try:
        return to_utc(d)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 or 9999-12-31T23:00:00 in UTC
        raise Invalid(field, f"fecha fuera de rango / date and time out of range: {show(value)}") \
            from None


def time_text(d: dt.datetime) -> str:
    """Render a naive UTC time the way SQLAlchemy stores it in SQLite (sortable text)."""
    return d.isoformat(sep=" ", timespec="microseconds")


def parse_date(field: str, value: str) -> dt.date:
    """Parse a ``YYYY-MM-DD`` date."""
    if _DATE_RE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(field, f"fecha no válida / not a YYYY-MM-DD date: {show(value)}")


def parse_number(field: str, value: str) -> float:
    """Parse a finite decimal number (``3`` and ``3.0`` are equal)."""
    if not _NUMBER_RE.match(value):
        low = value.strip().lower().lstrip("+-")
        if low in ("inf", "infinity", "nan"):
            raise Invalid(field, f"no es un número finito / not a finite number: {show(value)}")
        raise Invalid(field, f"no es un número / not a number (digits 0-9, '.' decimal): "
                             f"{show(value)}")
    x = float(value)
    if math.isnan(x) or math.isinf(x) or abs(x) > MAX_MAGNITUDE:
        raise Invalid(field, f"número fuera de rango / number out of range (at most "
                             f"{MAX_MAGNITUDE:.0e}): {show(value)}")
    return x


def parse_int(field: str, value: str, low: int | None = None, high: int | None = None) -> int:
    """Parse a whole number (``12`` or ``12.0``) within optional bounds."""
    x = parse_number(field, value)
    if not x.is_integer():
        raise Invalid(field, f"debe ser un número entero / must be a whole number: {show(value)}")
    n = int(x)
    if (low is not None and n < low) or (high is not None and n > high):
        raise Invalid(field, f"fuera de rango / out of range [{low}, {high}]: {n}")
    return n


def parse_bool(field: str, value: str) -> bool:
    """Parse ``true``/``false`` (also ``1``/``0``), case-insensitive."""
    b = _BOOLS.get(value.lower())
    if b is None:
        raise Invalid(field, f"debe ser true o false / must be true or false: {show(value)}")
    return b


def check_enum(field: str, value: str, allowed: tuple[str, ...] | frozenset[str]) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise Invalid(field, f"valor no permitido / not one of {', '.join(sorted(allowed))}: "
                             f"{show(value)}")
    return value


def check_len(field: str, value: str, limit: int) -> str:
    """Return ``value`` if it fits the column."""
    if len(value) > limit:
        raise Invalid(field, f"demasiado largo / longer than {limit} characters")
    return value


def patient_pseudonym(field: str, value: str, cache: dict[str, str],
                      key: str | None = None) -> str:
    """Replace a typed patient document by its keyed pseudonym (``PSN:`` kept as given)."""
    psn = cache.get(value)
    if psn is None:
        try:
            psn = fast_pseudonym(value, key)
        except DocumentError as exc:  # its message never echoes the document
            raise Invalid(field, str(exc)) from None
        if len(psn) > 40:
            raise Invalid(field, "seudónimo demasiado largo / PSN token longer than 40 characters")
        if len(cache) > PSEUDONYM_CACHE:  # bounded: memory stays flat however long the file
            cache.clear()
        cache[value] = psn
    return psn


# Distinct documents whose pseudonyms one import keeps (cleared when full). The benchmark's
# national year holds 200,000 distinct patients: at 100,000 the cache missed on every row
# (1 M rows: 0.9 CPU s of the validating child); at 250,000 its peak RSS grew by 3 MiB.
PSEUDONYM_CACHE = 250_000
_KINDS = frozenset({"DNI", "CE", "PAS"})
_keyed: dict[str, object] = {}


def fast_pseudonym(patient_id: str, key: str | None = None) -> str:
    """Same result as ``privacy.pseudonymize`` (a test checks it), from a pre-keyed C HMAC.

    Copying an HMAC whose key is already absorbed skips two of the four SHA-256 blocks per
    document: it halves the cost of the one cryptographic step of intake. ``key`` defaults to
    the configured ``pseudonym_key`` (the validating child process is handed its parent's).
    """
    key = key or get_settings().pseudonym_key
    base = _keyed.get(key)
    if base is None:
        _keyed.clear()
        base = _keyed[key] = _hmac_new(key.encode(), b"", "sha256")
    value = patient_id.strip()
    kind, sep, number = value.partition(":")
    # The usual document (an upper-case kind and plain ASCII digits of the right length) is
    # normalized here; anything else (PSN: tokens, separators, letters, lower case, errors)
    # by ``privacy.document_key`` through ``pseudonymize``: the same result either way.
    n = len(number)
    if not (sep and number.isdigit() and number.isascii()
            and ((kind == "DNI" and 6 <= n <= 8) or (kind in _KINDS and kind != "DNI"
                                                     and 5 <= n <= 20))):
        return pseudonymize(value, key)
    norm = number.lstrip("0")
    if not norm:
        return pseudonymize(value, key)  # the error: zeros only
    h = base.copy()
    h.update((value if norm is number else f"{kind}:{norm}").encode())
    return "PSN:" + h.hexdigest()[:24]


def safe_patient(value: str) -> str:
    """Return what may be stored of a raw patient_id: its pseudonym, or ``[redactado]``."""
    if not value:
        return value
    try:
        return pseudonymize(value)
    except DocumentError:
        return "[redactado]"


def unknown_ubigeo(value: str) -> str:
    """The reason for an unknown district code, with the fix when a spreadsheet dropped its
    leading zero ("70101" for Callao's 070101)."""
    from centinela.reference import ubigeo

    hint = ""
    if value.isdigit() and len(value) == 5 and ubigeo.is_valid("0" + value):
        hint = (f" (¿perdió el cero inicial? «0{value}»; Excel lo quita a los números / lost its "
                f"leading zero? '0{value}': Excel drops it from numbers)")
    return f"ubigeo INEI desconocido / unknown INEI district code {show(value)}{hint}"
