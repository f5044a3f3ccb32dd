"""Keyed pseudonyms for patient documents: document numbers never reach storage or logs."""

from __future__ import annotations

import hashlib
import hmac
import re

from centinela.config import get_settings

_DOC = re.compile(r"^(DNI|CE|PAS):(\S+)$")
_PSN = re.compile(r"^PSN:[A-Za-z0-9_-]{4,64}$")


class DocumentError(ValueError):
    """A patient identifier that is neither a typed document nor a PSN token."""


def pseudonymize(patient_id: str, key: str | None = None) -> str:
    """Return the ``PSN:`` pseudonym of a typed document (``DNI:…``, ``CE:…``, ``PAS:…``).

    A ``PSN:`` token is returned as given. The error message never echoes the document.
    """
    value = patient_id.strip()
    if _PSN.match(value):
        return value
    m = _DOC.match(value)
    if not m:
        raise DocumentError("patient_id must be DNI:, CE:, PAS: followed by the number, or PSN:")
    kind, number = m.group(1), m.group(2).upper().lstrip("0") or "0"
    secret = (key or get_settings().pseudonym_key).encode()
    digest = hmac.new(secret, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()
    return "PSN:" + digest[:24]


def client_hash(value: str, purpose: str, key: str | None = None) -> str:
    """Return a keyed hash of a client attribute (IP, phone) for rate limiting and dedup."""
    secret = (key or get_settings().secret_key).encode()
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


# The prefix must be a whole token ("pastillas", "cementerio" are words, not documents) and the
# number must hold digits.
_DOC_ANYWHERE = re.compile(r"\b(DNI|CE|PAS)(?![A-Za-z])\s*[:#-]?\s*(?=[A-Za-z]{0,3}\d)[A-Za-z0-9]{5,}",
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
        return pseudonymize(f"{m.group(1).upper()}:{m.group(2)}")
    if _LONG_DIGITS.search(name):
        return _LONG_DIGITS.sub(lambda d: pseudonymize(f"DNI:{d.group(0)}"), redact(name))
    return redact(name)


def key_digest(key: str | None = None) -> str:
    """A keyed digest that tells pseudonym keys apart without revealing them."""
    secret = (key or get_settings().pseudonym_key).encode()
    return hmac.new(secret, b"centinela:pseudonym-key-check", hashlib.sha256).hexdigest()[:32]
