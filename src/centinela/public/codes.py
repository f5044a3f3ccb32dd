"""Follow-up codes: 100 random bits shown once to the reporter, stored only as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from centinela.config import get_settings

# Crockford base32 without I, L, O, U: easy to read aloud and to type on a phone.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LEN = 5, 4  # 20 symbols x 5 bits = 100 bits of entropy
_CLEAN = re.compile(r"[^0-9A-Z]")


def new_code() -> str:
    """Return a fresh follow-up code such as ``K7QX-9MZD-4TPA-W2HE-8RFN``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
    return "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def normalize_code(code: str) -> str:
    """Uppercase, drop separators and map look-alikes (O→0, I/L→1) as Crockford does."""
    text = _CLEAN.sub("", (code or "").upper().replace("O", "0").replace("I", "1")
                      .replace("L", "1"))
    return text


def code_hash(code: str, key: str | None = None) -> str:
    """Return the keyed hash under which a report's code is stored."""
    secret = (key or get_settings().secret_key).encode()
    return hmac.new(secret, b"report-code:" + normalize_code(code).encode(),
                    hashlib.sha256).hexdigest()


def looks_like_code(code: str) -> bool:
    """True when ``code`` has the length and alphabet of a follow-up code."""
    norm = normalize_code(code)
    return len(norm) == GROUPS * GROUP_LEN and all(c in ALPHABET for c in norm)
