"""Stored codes (specialties, risk factors, channels…) in the reader's language.

Used by the alert evidence and by every list that shows a stored summary; it depends only on
the catalogues and the formatting helpers, so both can import it.
"""

from __future__ import annotations

import json
import re

from centinela.web.fmt import format_date
from centinela.web.i18n import catalogs, translate

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    return SNAKE.sub(lambda m: translate("code." + m.group(0), lang)
                     if "code." + m.group(0) in cats["es"] else m.group(0).replace("_", " "), text)


# Keys of an audit entry's details whose value is a code with its own catalogue prefixes: a
# user's role, an alert's (or a citizen report's) status before and after, a case outcome.
_STATUS = ("status.", "pub.status.")
DETAIL_PREFIXES: dict[str, tuple[str, ...]] = {
    "role": ("role.",), "from": _STATUS, "to": _STATUS, "outcome": ("outcome.",)}


def detail(key: str, value: object, lang: str) -> str:
    """One value of an audit entry's details in the reader's language.

    A role (``"role": "regional_analyst"``), a status or an outcome by its name, a string that is
    exactly a stored code by its label, each item of a list alike; anything else as stored
    (numbers, ids and objects as JSON; nothing as "—"). Unlike :func:`code`, free text is never
    rewritten: an underscore in a file name or a username stays as it is.
    """
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(detail(key, v, lang) for v in value)
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    es = catalogs()["es"]
    for k in (*(prefix + value for prefix in DETAIL_PREFIXES.get(key, ())), "code." + value):
        if k in es:
            return translate(k, lang)
    return value
