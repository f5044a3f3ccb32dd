"""Keyed pseudonyms for patient documents: document numbers never reach storage or logs."""

from __future__ import annotations

import hashlib
import hmac
import re

from centinela.config import get_settings

_PSN = re.compile(r"^PSN:[A-Za-z0-9_-]{4,64}$")
DOCUMENT_KINDS = frozenset({"DNI", "CE", "PAS"})
# Separators people type inside a document number ("45.678.912", "45 678 912", "45-678-912").
DOCUMENT_SEPARATORS = str.maketrans("", "", " .-_/")


class DocumentError(ValueError):
    """A patient identifier that is neither a typed document nor a PSN token (the message
    never echoes the value)."""


def document_key(value: str) -> str:
    """The normalized ``KIND:NUMBER`` that a typed document is pseudonymized from.

    ``DNI`` is 8 digits; 6 or 7 are taken as a number that lost its leading zeros in a
    spreadsheet. ``CE`` (carné de extranjería) and ``PAS`` (passport) are 5 to 20 letters and
    digits with at least one digit. The kind may be in any case and the number may hold
    spaces, dots or hyphens: ``dni: 45.678.912`` is ``DNI:45678912``. Leading zeros are not
    part of the number (``DNI:01234567`` and ``DNI:1234567`` are one person). Anything else
    raises ``DocumentError``: a malformed document would split a patient's history.
    """
    kind, sep, number = value.strip().partition(":")
    kind = kind.strip().upper()
    if not sep or kind not in DOCUMENT_KINDS:
        raise DocumentError("documento no válido / patient_id must be DNI:, CE:, PAS: followed "
                            "by the number, or a PSN: token")
    compact = number.translate(DOCUMENT_SEPARATORS).upper()
    if not compact:
        raise DocumentError(f"documento no válido / the {kind} number is missing")
    if not compact.isascii() or not compact.isalnum():
        raise DocumentError(f"documento no válido / the {kind} number holds characters other "
                            "than letters, digits and separators")
    if kind == "DNI":
        if not compact.isdigit() or not 6 <= len(compact) <= 8:
            raise DocumentError("DNI no válido / a DNI is 8 digits (6 or 7 if a spreadsheet "
                                "dropped its leading zeros)")
    elif not 5 <= len(compact) <= 20 or not any(c.isdigit() for c in compact):
        raise DocumentError(f"{kind} no válido / a {kind} number is 5 to 20 letters and digits, "
                            "with at least one digit")
    norm = compact.lstrip("0")
    if not norm:
        raise DocumentError(f"{kind} no válido / a {kind} number of zeros only")
    return f"{kind}:{norm}"


def pseudonymize(patient_id: str, key: str | None = None) -> str:
    """Return the ``PSN:`` pseudonym of a typed document (``DNI:…``, ``CE:…``, ``PAS:…``).

    A ``PSN:`` token is returned as given. The error message never echoes the document.
    """
    value = patient_id.strip()
    if _PSN.match(value):
        return value
    if value[:4].upper() == "PSN:":
        raise DocumentError("seudónimo no válido / a PSN: token is 4 to 64 letters, digits, "
                            "'_' or '-'")
    secret = (key or get_settings().pseudonym_key).encode()
    digest = hmac.new(secret, document_key(value).encode(), hashlib.sha256).hexdigest()
    return "PSN:" + digest[:24]


def client_hash(value: str, purpose: str, key: str | None = None) -> str:
    """Return a keyed hash of a client attribute (IP, phone) for rate limiting and dedup."""
    secret = (key or get_settings().secret_key).encode()
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


# The prefix must be a whole token ("pastillas", "cementerio" are words, not documents) and the
# number must hold digits.
_DOC_ANYWHERE = re.compile(
    r"\b(DNI|D\.\s?N\.\s?I\.?|CE|PAS|pasaporte|passport|documento|doc\.)(?![A-Za-z])\s*"
    r"(?:(?:N[°ºo]|Nro|n[úu]mero|number|no)\.?\s*)?[:#-]?\s*(?=[A-Za-z]{0,3}\d)[A-Za-z0-9]{5,}",
    re.IGNORECASE)


def redact(text: str) -> str:
    """Replace anything that looks like a typed document number in free text."""
    return _DOC_ANYWHERE.sub(lambda m: m.group(1).upper() + ":[redactado]", text)


_DOC_LOOSE = re.compile(r"^\s*(DNI|CE|PAS)\s*[:#-]?\s*([A-Za-z0-9]{5,})\s*$", re.IGNORECASE)
_LONG_DIGITS = re.compile(r"[0-9]{7,}")


def safe_name(name: str) -> str:
    """Return a column name or JSON key fit to store and echo: one that looks like a document
    (``DNI:12345680``, ``dni 12345680``, a bare run of 7+ digits) becomes its keyed pseudonym,
    so the same leak is still recognisable without revealing the number."""
    m = _DOC_LOOSE.match(name)
    if m:
        return _pseudonym_or_mask(f"{m.group(1).upper()}:{m.group(2)}")
    if _LONG_DIGITS.search(name):
        return _LONG_DIGITS.sub(lambda d: _pseudonym_or_mask(f"DNI:{d.group(0)}"), redact(name))
    return redact(name)


def _pseudonym_or_mask(document: str) -> str:
    """The document's pseudonym, or ``[redactado]`` when it is not a valid document (a run of
    nine digits is no DNI, but it is never echoed either)."""
    try:
        return pseudonymize(document)
    except DocumentError:
        return "[redactado]"


def key_digest(key: str | None = None) -> str:
    """A keyed digest that tells pseudonym keys apart without revealing them."""
    secret = (key or get_settings().pseudonym_key).encode()
    return hmac.new(secret, b"centinela:pseudonym-key-check", hashlib.sha256).hexdigest()[:32]
