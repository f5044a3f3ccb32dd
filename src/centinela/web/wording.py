"""Alert summaries as lists show them: ISO dates in the reader's style, one date for a range
that starts and ends on the same day (or month).

Stored summaries are written at detection time with ISO dates ("entre 2026-12-05 y 2026-12-05")
and the headline templates name a period's two ends even when they are the same ("entre agosto
de 2026 y agosto de 2026"). :func:`tidy` rewrites both, and nothing else, so the inbox, the other
alert lists and the alert page read the same sentence.
"""

from __future__ import annotations

import re

from centinela.web.fmt import format_date, format_month

# A bare ISO day or month inside a sentence (not part of an id such as CEN-2026-000001, nor of a
# date-time such as 2026-02-30T10:00).
_ISO_DAY = re.compile(r"(?<![\w/-])\d{4}-\d{2}-\d{2}(?![\w/:-])")
_ISO_MONTH = re.compile(r"(?<![\w/-])(?:19|20)\d{2}-(?:0[1-9]|1[0-2])(?![\w/:-])")
# "entre [el] X y [el] X" / "between X and X" where both ends are the same date (with a year).
_SAME_ES = re.compile(r"\bentre (?:el |la )?(?P<a>(?=[^,;()]*\d{4})[^,;()]+?) y (?:el |la )?"
                      r"(?P=a)(?![\w])")
_SAME_EN = re.compile(r"\bbetween (?:the )?(?P<a>(?=[^;()]*\d{4})[^;()]+?) and (?:the )?(?P=a)"
                      r"(?![\w])")
_DAY_NUMBER = re.compile(r"(?<!\d)\d{1,2}(?!\d)")


def _iso_dates(text: str, lang: str) -> str:
    text = _ISO_DAY.sub(lambda m: format_date(m.group(0), lang), text)
    return _ISO_MONTH.sub(lambda m: format_month(m.group(0), lang), text)


def _one_date(m: re.Match[str], lang: str) -> str:
    day = bool(_DAY_NUMBER.search(m["a"]))  # "5 dic 2026" is a day, "agosto de 2026" a month
    if lang == "en":
        return f"{'on' if day else 'in'} {m['a']}"
    return f"{'el' if day else 'en'} {m['a']}"


def same_period(text: str, lang: str = "es") -> str:
    """Return ``text`` with a range whose two ends are the same date said as that one date."""
    pattern = _SAME_EN if lang == "en" else _SAME_ES
    return pattern.sub(lambda m: _one_date(m, lang), text)


def tidy(text: str, lang: str = "es") -> str:
    """Return an alert summary with its ISO dates in ``lang``'s style, no same-date ranges and
    a noun after "1" in the singular ("1 denuncias" → "1 denuncia")."""
    if not text:
        return text
    return _singular(same_period(_iso_dates(text, lang), lang))


# The plural nouns the sentences put after a count, and their singular (es and en): a count of
# one read "1 denuncias", "1 unidades", "1 citizen reports".
_SINGULAR = {
    "denuncias": "denuncia", "unidades": "unidad", "envíos": "envío", "señales": "señal",
    "alertas": "alerta", "pacientes": "paciente", "recetas": "receta", "formularios":
    "formulario", "dispensaciones": "dispensación", "ocurrencias": "ocurrencia",
    "movimientos": "movimiento", "publicaciones": "publicación", "establecimientos":
    "establecimiento", "prescriptores": "prescriptor", "días": "día", "meses": "mes",
    "desechos": "desecho", "dosis": "dosis", "pérdidas": "pérdida", "incautaciones":
    "incautación", "farmacias": "farmacia", "reports": "report", "units": "unit",
    "shipments": "shipment", "signals": "signal", "alerts": "alert", "patients": "patient",
    "prescriptions": "prescription", "forms": "form", "dispensings": "dispensing",
    "occurrences": "occurrence", "movements": "movement", "posts": "post",
    "establishments": "establishment", "prescribers": "prescriber", "days": "day",
    "months": "month", "wastes": "waste", "losses": "loss", "seizures": "seizure",
    "pharmacies": "pharmacy",
}
# Only where no adjective follows the noun (an adjective would need its own agreement:
# "1 unidades perdidas" is left as it is rather than half-fixed).
_ONE = re.compile(r"(?<![\d.,])\b1 (?:(citizen) )?(" + "|".join(_SINGULAR) + r")\b"
                  r"(?=\s*(?:[,.;:)]|$)|\s+(?:de|del|en|a|al|por|y|o|con|entre|sin|para|que|"
                  r"from|in|of|at|and|or|to|on|by|with|that|between)\b)")


def _singular(text: str) -> str:
    def one(m: re.Match) -> str:
        adj = m.group(1)
        return "1 " + (adj + " " if adj else "") + _SINGULAR[m.group(2)]
    return _ONE.sub(one, text)
