"""The report's words for people: numbers and dates as the web app writes them (es-PE, Lima
time, :mod:`centinela.web.fmt`), quarters by name, and stored codes (detectors, substances,
statuses, rejected rows) in Spanish.

The figures JSON keeps the codes; only the HTML and the PDF go through these functions. Every
name comes from a table that already exists: detectors from the app's catalogue and their own
titles, substances from the early-warning registry, statuses from the app's catalogues.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from centinela.ews.registry import registry
from centinela.reference.ubigeo import departments


class WebWords:
    """The web app's formatter and catalogues (``centinela.web.fmt``, ``codes.label``,
    ``i18n.detector_label``, ``evidence.headline``, ``wording.same_period``): the quarterly
    report sits below the web
    layer and cannot import it, so the web package hands them over at start
    (``centinela.web.report_words.register``, called by the app and the command line)."""

    fmt: Any = None
    label: Any = None
    detector_label: Any = None
    headline: Any = None
    same_period: Any = None


WEB = WebWords()


def use(fmt: Any, label: Any, detector_label: Any, headline: Any, same_period: Any) -> None:
    """Register the web app's words (idempotent)."""
    WEB.fmt, WEB.label, WEB.detector_label, WEB.headline = fmt, label, detector_label, headline
    WEB.same_period = same_period


def web() -> WebWords:
    """The registered words; a clear error when nothing registered them."""
    if WEB.fmt is None:
        raise RuntimeError("the quarterly report needs the web app's words: call "
                           "centinela.web.report_words.register() first")
    return WEB

LANG = "es"  # the report is written in Spanish
NO_DEPARTMENT = "Sin departamento registrado"
UNIDENTIFIED = "Sustancia no identificada"
UNREGISTERED_PRODUCT = "Producto no registrado"
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
ORDINAL = {1: "primer", 2: "segundo", 3: "tercer", 4: "cuarto"}
# Stored spellings that mean "no identification" (reported names, the ledger's placeholder).
_UNKNOWN = re.compile(r"\b(unknown|unidentified|desconocid[oa]s?|no identificad[oa]|"
                      r"sin identificar)\b", re.IGNORECASE)
RECORD_TYPES = {
    "movement": "Movimientos", "establishment": "Establecimientos",
    "professional": "Profesionales", "product": "Productos", "seizure": "Incautaciones",
    "certificate": "Certificados", "overdose": "Intoxicaciones", "patient": "Pacientes",
}
REJECTION_KINDS = {"invalid": "valor no válido",
                   "conflict": "conflicto (mismo identificador, otro contenido)"}
_WHERE = re.compile(r"^(?P<rtype>[a-z_]+)\.(?P<field>[^ ]+) \((?P<kind>[a-z_]+)\)$")


def num(value: float | int | None, digits: int = 1) -> str:
    """Return a number as the app writes it (``1 943 159,4``), "—" when there is none."""
    return "—" if value is None else web().fmt.format_number(value, LANG, digits)


def count(value: int | None, one: str, many: str) -> str:
    """Return a count with its noun in the right number (``1 señal``, ``4 señales``)."""
    return f"{num(value or 0, 0)} {one if value == 1 else many}"


def change(value: float | None) -> str:
    """Return a change in percent with its sign (``+19,0 %``, ``-15,3 %``), "—" for none."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else ""
    return sign + web().fmt.format_percent(value, LANG, 1)


def percent(value: float | None, digits: int = 1) -> str:
    """Return a 0–100 value as a percentage (``89,2 %``), "—" for none."""
    return "—" if value is None else web().fmt.format_percent(value, LANG, digits)


def _quarter(label_: str) -> tuple[int, int]:
    year, q = label_.upper().split("Q")
    return int(year), int(q)


def quarter_short(label_: str) -> str:
    """Return ``2026Q3`` as ``III trim. 2026`` (table headers, charts)."""
    year, q = _quarter(label_)
    return f"{ROMAN[q]} trim. {year}"


def quarter_long(label_: str) -> str:
    """Return ``2026Q3`` as ``tercer trimestre de 2026``."""
    year, q = _quarter(label_)
    return f"{ORDINAL[q]} trimestre de {year}"


def day(value: str | dt.date | None) -> str:
    """Return a date in words (``30 de setiembre de 2026``)."""
    return web().fmt.format_date(value, LANG, "long") if value else "—"


def period(first: str, last: str) -> str:
    """Return a period in words without repeating what both ends share:
    ``del 1 de julio al 30 de setiembre de 2026``."""
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    if a == b:
        return f"el {day(a)}"
    if a.year == b.year:
        start = web().fmt.format_date(a, LANG, "d 'de' MMMM") if a.month != b.month else str(a.day)
        return f"del {start} al {day(b)}"
    return f"del {day(a)} al {day(b)}"


def moment(value: str | dt.datetime | None) -> str:
    """Return a stored (naive UTC) time in Lima: ``6 de diciembre de 2026, 01:41 (hora de
    Lima)``."""
    if not value:
        return "—"
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    local = web().fmt.to_lima(when)
    return f"{day(local.date())}, {local:%H:%M} (hora de Lima)"


def department(code: str | None) -> str:
    """Return a department's INEI name, or "Sin departamento registrado"."""
    return departments().get(code or "", NO_DEPARTMENT)


def detector(code: str) -> str:
    """Return a detector's Spanish name (the app's catalogue, else the detector's own title)."""
    name = web().detector_label(code, LANG)
    return name if name != code else fmt_code(code)


def fmt_code(code: str) -> str:
    """A code with no name yet, in words rather than snake_case."""
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def substance(name: str | None) -> str:
    """Return a substance's Spanish name from the early-warning registry (``fentanyl`` →
    ``fentanilo``); an unidentified one as such; a name the registry does not know, quoted as
    reported."""
    text = (name or "").strip()
    if not text or _UNKNOWN.search(text):
        return UNIDENTIFIED.lower()
    hit = registry().lookup_name(text)
    if hit is not None:
        return hit.display_name(LANG)
    return f"«{text}» (nombre notificado, sin confirmar)"


def capital(text: str) -> str:
    """Return ``text`` with a capital first letter (a table cell)."""
    return text[:1].upper() + text[1:]


def product_substance(code: str) -> str:
    """Return a consumption row's substance (``desconocido``: a product not in the registry)."""
    return UNREGISTERED_PRODUCT if code == "desconocido" else capital(substance(code))


def merge_substances(rows: list[dict[str, Any]], name_key: str,
                     sum_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return ``rows`` keyed by Spanish name, summing ``sum_keys`` of rows that name the same
    substance (``fentanyl`` and ``fentanilo``), largest first as the figures were."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = substance(r.get(name_key))
        row = out.setdefault(name, {"name": name, **{k: 0 for k in sum_keys}})
        for k in sum_keys:
            row[k] += r.get(k) or 0
    return sorted(out.values(), key=lambda r: (-r[sum_keys[0]], r["name"]))


def severity(code: str | None) -> str:
    """Return an alert's or a bulletin's severity in Spanish."""
    return web().label("severity.", code or "", LANG) if code else "—"


def code_label(prefix: str, code: str) -> str:
    """Return a stored code in Spanish from the app's catalogue (``pub.status.received`` →
    ``recibida``), in words when it has no entry."""
    return web().label(prefix, code, LANG)


def rejection_where(where: str) -> str:
    """Return ``movement.quantity (invalid)`` as ``Movimientos, campo «quantity»: valor no
    válido`` (the field keeps the reporting format's column name)."""
    m = _WHERE.match(where or "")
    if not m:
        return where
    rtype = RECORD_TYPES.get(m["rtype"], fmt_code(m["rtype"]))
    field = "" if m["field"] == "-" else f", campo «{m['field']}»"
    return f"{rtype}{field}: {REJECTION_KINDS.get(m['kind'], fmt_code(m['kind']))}"


def one_range(text: str) -> str:
    """Say "en agosto de 2026" where a sentence reads "entre agosto de 2026 y agosto de 2026"."""
    return web().same_period(text or "", LANG)
