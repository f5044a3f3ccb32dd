"""Stored codes (specialties, risk factors, channels…) in the reader's language.

Used by the alert evidence and by every list that shows a stored summary; it depends only on
the catalogues and the formatting helpers, so both can import it.
"""

from __future__ import annotations

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
