"""CSV cells that a spreadsheet will not run: formula neutralisation for every CSV download."""

from __future__ import annotations

import re

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "|")
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(?:\.[0-9]+)?$")


def cell(value: object) -> object:
    """Return ``value`` ready for a CSV cell: a text starting like a formula gets a ``'`` prefix.

    ``=HYPERLINK(…)``, ``+cmd|…``, ``-2+3``, ``@SUM(…)`` would run in Excel/LibreOffice when the
    analyst opens the download (OWASP "CSV injection"). Plain numbers such as ``-3`` are kept.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_TRIGGERS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def row(values) -> list:
    """Neutralise every cell of a row."""
    return [cell(v) for v in values]
