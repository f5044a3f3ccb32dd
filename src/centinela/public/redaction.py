"""Redaction of personal identifiers in citizens' free text, with real token boundaries.

Peruvian document numbers (DNI 8 digits with optional check digit, carné de extranjería 9,
passport, RUC of a person 10…/15…/17…) and phone numbers are found as *number tokens* — digits
possibly grouped with spaces, dots or hyphens — never inside words, then classified by their
shape and by the words around them ("DNI", "mi documento", "carnet", "cel", "llámame al").
Numbers that are prices, dates, doses, quantities, times or street numbers are left alone.
Names are redacted only where the writer gives their own ("me llamo …", "mi nombre es …").

Phones are removed from the text too; :func:`scan` tells the caller whether a phone reads as the
writer's own (first person) or someone else's (a seller's lead, which the report form keeps in
its separate ``contact`` field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from centinela.lib.text import fold_keep_enye as fold

# A number token: digit groups joined by one space, dot or hyphen (no letters glued on either
# side), optionally after +51 / 0051. Group lengths are checked in Python.
_NUMBER = re.compile(
    r"(?<![\w/,.+-])(?P<cc>(?:\+|00)\s?51[\s.-]?)?"
    r"(?P<num>\d{1,11}(?:[ .\-]\d{1,11}){0,9})"
    r"(?![\w/%]|[.,]\d|:\d)"
)
_ALNUM_DOC = re.compile(r"(?<![\w-])(?P<num>[A-Za-z]{1,3}[ -]?\d{5,10}|\d{5,10}[A-Za-z]{1,2})"
                        r"(?![\w-])")

# Words before a number that say which identifier it is (folded text, up to ~5 words back).
_FILLER = r"(?:\s*(?:[:#°º=\-,]|\(\d{2,3}\)|n(?:ro|um|o)?\.?|numero|number|no\.|es|era|de|del|mi|su|el|la|" \
          r"con|un|una|dice|seria|sera|is|my|his|her|al|a|number:)\s*)*"
_CTX = {
    "dni": re.compile(r"(?:\bd\.?\s?n\.?\s?i\b\.?|\bdocumento(?: nacional)?(?: de identidad)?\b|"
                      r"\bdoc\b\.?|\bidentificacion\b|\blibreta electoral\b|\bid\b|"
                      r"\bidentity (?:card|document)\b)" + _FILLER + r"$"),
    "ce": re.compile(r"(?:\bc\.?\s?e\b\.?|\bcarne?t?\b(?: de extranjeria)?|\bcarnet?\b|"
                     r"\bextranjeria\b|\bresidence card\b)" + _FILLER + r"$"),
    "passport": re.compile(r"(?:\bpasaporte\b|\bpassport\b|\bpsp\b)" + _FILLER + r"$"),
    "ruc": re.compile(r"\br\.?\s?u\.?\s?c\b\.?" + _FILLER + r"$"),
    "phone": re.compile(r"(?:\bcel(?:ular)?\b\.?|\bmovil\b|\btel(?:efono|efonico|f|f\.|)?\b\.?|"
                        r"\btlf\b\.?|\bfono\b|\bwhats?app\b|\bwsp\b|\bwasap\b|\bwhatsap\b|\bwa\b|"
                        r"\bphone\b|\bmobile\b|\bcell\b|\bnumero\b|\bnro\b|\bfijo\b|"
                        r"\b(?:llam(?:a|e|en|ar|ame|enme|ando|aron|o)|marca|escrib(?:e|a|ir|"
                        r"eme|anme|ieron)|contact(?:a|ar|ame|enme|o)|avis(?:a|ame|ar)|"
                        r"call|text|msg|mensaje)\b)" + _FILLER + r"$"),
}
# A phone word a few words back ("el teléfono de la botica es (01) 456-7890").
_PHONE_NEAR = re.compile(r"\b(?:cel(?:ular)?|movil|telefono|telf|tlf|tel|fono|whats?app|wsp|"
                         r"wasap|phone|fijo|numero)\b(?:\W+\w+){0,5}\W*$")
_GLUED = re.compile(r"\b(?P<kw>DNI|CE|RUC|CEL|TEL)(?P<num>\d{8,11})\b", re.IGNORECASE)
# First person: the writer's own number, never a lead to keep.
_FIRST_PERSON = re.compile(
    r"\b(?:mi|mis|my|me|llamame|llamenme|escribeme|escribanme|contactame|contactenme|"
    r"avisame|avisenme|ubicarme|ubicame|comunicarse conmigo|conmigo|call me|text me|reach me)\b"
    r"[^.;!?\n]{0,30}$")
# Words right after a number that make it a quantity, price, dose or time, not an identifier.
_UNIT_AFTER = re.compile(
    r"^\s*(?:%|mg|mcg|µg|ug|ml|cc|g|gr|grs|gramos?|kg|kilos?|miligramos?|microgramos?|litros?|"
    r"l\b|soles?|s/|usd|dolares?|dollars?|pesos?|euros?|lucas?|mangos?|pastillas?|pastis?|"
    r"tabletas?|pildoras?|ampollas?|parches?|unidades?|u\b|cajas?|frascos?|blisters?|dosis|"
    r"sobres?|kilometros?|km|metros?|m\b|cuadras?|pisos?|horas?|hrs?|h\b|minutos?|min|"
    r"segundos?|dias?|semanas?|meses|mes|anos?|años?|veces|personas?|ninos?|jovenes|"
    r"muertos?|casos?|am\b|pm\b|de (?:la manana|la tarde|la noche|enero|febrero|marzo|abril|"
    r"mayo|junio|julio|agosto|setiembre|septiembre|octubre|noviembre|diciembre)|hab|habitantes?)",
)
_CURRENCY_BEFORE = re.compile(r"(?:s/\.?|\$|usd|us\$|€|soles|precio|costo|cuesta|cuestan|vale|"
                              r"valen|pague|pagaron|cobran|cobra|a|por|total)\s*$")
_ADDRESS_BEFORE = re.compile(r"\b(?:av|avenida|jr|jiron|calle|ca|psje|pasaje|mz|lt|lote|"
                             r"manzana|km|cuadra|cdra|nro|n°|numero|piso|dpto|departamento|"
                             r"int|interior|urb|block|puerta|ruta|linea|bus|combi|carro|"
                             r"placa|mototaxi|ano|year|dia|el|del|desde|hasta|entre|y|de)"
                             r"\.?\s*$")
_DATE = re.compile(r"^(\d{1,2})[.\-](\d{1,2})[.\-](\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})[.\-](\d{1,2})[.\-](\d{1,2})$")
_NAME = re.compile(
    r"\b(?P<cue>me llamo|mi nombre es|my name is|i am called|soy el senor|soy la senora)\s+"
    r"(?P<name>(?:[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+|[A-ZÁÉÍÓÚÑ]{2,})(?:\s+(?:de\s+(?:la\s+)?)?"
    r"(?:[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+|[A-ZÁÉÍÓÚÑ]{2,})){0,3})",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone spelled out to slip past filters: seven or more digit words in a row.
_DIGIT_WORDS = {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4",
                "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9", "zero": "0",
                "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9"}
_DIGIT_WORD = "|".join(sorted(_DIGIT_WORDS, key=len, reverse=True))
_SPELLED = re.compile(rf"\b(?:(?:{_DIGIT_WORD})[\s,.\-]+){{6,}}(?:{_DIGIT_WORD})\b", re.IGNORECASE)


def spelled_digits(text: str) -> str:
    """The digits a spelled-out number stands for ("nueve ocho siete" → "987")."""
    return "".join(_DIGIT_WORDS.get(w.lower(), "") for w in re.split(r"[\s,.\-]+", text))

LABELS = {"dni": "[DNI redactado]", "ce": "[CE redactado]", "passport": "[pasaporte redactado]",
          "ruc": "[RUC redactado]", "phone": "[teléfono redactado]",
          "document": "[documento redactado]", "name": "[nombre redactado]",
          "email": "[correo redactado]"}


@dataclass(frozen=True)
class Finding:
    """One identifier found in a text: its kind, span and whether it is the writer's own."""

    kind: str  # dni, ce, passport, ruc, phone, document, name, email
    start: int
    end: int
    value: str
    own: bool


def _left(text: str, start: int, chars: int = 40) -> str:
    """Folded text before ``start`` (the context window of a number)."""
    return fold(text[max(0, start - chars) : start]).replace("\n", " ")


def _context(left: str) -> str | None:
    for kind, pattern in _CTX.items():
        if pattern.search(left):
            return kind
    return None


def _is_date(num: str) -> bool:
    m = _DATE.match(num)
    if m:
        return 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12
    m = _ISO_DATE.match(num)
    if m:
        return 1900 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12
    if re.fullmatch(r"\d{8}", num):  # 20250314 / 14032025 written without separators
        y1, mo1, d1 = int(num[:4]), int(num[4:6]), int(num[6:])
        d2, mo2, y2 = int(num[:2]), int(num[2:4]), int(num[4:])
        return ((1990 <= y1 <= 2100 and 1 <= mo1 <= 12 and 1 <= d1 <= 31)
                or (1990 <= y2 <= 2100 and 1 <= mo2 <= 12 and 1 <= d2 <= 31))
    return False


def _grouping_ok(groups: list[str]) -> bool:
    """Digit groups that people use when writing an identifier (not a list of quantities)."""
    if len(groups) == 1:
        return True
    # "45 678 912", "456.789.12", "987 654 321", "98-765-4321"; a lone 1-digit group only as a
    # trailing check digit ("45678912-3").
    inner = groups[:-1] if len(groups[-1]) == 1 else groups
    return all(len(g) >= 2 for g in inner) and max(len(g) for g in groups) <= 9


def _classify(text: str, start: int, end: int, raw: str,
              cc: str | None) -> tuple[str, bool] | None:
    """Return (kind, own) for a number token, or None when it is not an identifier."""
    sep_groups = re.split(r"[ .\-]", raw)
    digits = "".join(sep_groups)
    n = len(digits)
    left = _left(text, start)
    right = fold(text[end : end + 25])
    ctx = _context(left)
    own = bool(_FIRST_PERSON.search(left))
    if cc and n == 9 and digits.startswith("9"):
        return "phone", own
    if not _grouping_ok(sep_groups) and ctx is None:
        return None
    if _UNIT_AFTER.match(right) and ctx is None:
        return None
    if ctx is None and 6 <= n <= 11 and _PHONE_NEAR.search(left) and not _UNIT_AFTER.match(right):
        ctx = "phone"
    if ctx is None and (_DATE.match(raw) or _ISO_DATE.match(raw)):
        return None
    check = len(sep_groups) > 1 and len(sep_groups[-1]) == 1  # DNI check digit "-3"
    body = digits[:-1] if check else digits
    if ctx in ("dni", "ce", "passport", "ruc") and 6 <= n <= 12:
        if ctx == "ruc" and not (n == 11 and digits[:2] in ("10", "15", "17")):
            return ("ruc", own) if own else None  # a company RUC (20…) is public information
        return ctx, own
    if ctx == "phone" and 6 <= n <= 11:
        return "phone", own
    if (n == 11 and digits[:2] in ("10", "15", "17")
            and [len(g) for g in sep_groups] in ([11], [2, 8, 1])):
        return "ruc", own
    if len(body) == 8 and (check or not _is_date(digits)):
        if _CURRENCY_BEFORE.search(left) or _ADDRESS_BEFORE.search(left) and len(sep_groups) > 1:
            return None
        return "dni", own
    if n == 9 and digits.startswith("9"):
        return "phone", own
    if n == 9 and digits.startswith("0"):  # landline with area code: 01 4567890, 044 123456
        return "phone", own
    if n == 9 and not _CURRENCY_BEFORE.search(left):
        return "document", own
    return None


def _spans(m: re.Match) -> list[tuple[int, int, str, str | None]]:
    """The whole number token, then its runs of groups, longest first ("a las 10 987654321")."""
    whole = [(m.start(), m.end(), m.group("num"), m.group("cc"))]
    base = m.start("num")
    parts = [(g.start() + base, g.end() + base) for g in re.finditer(r"\d+", m.group("num"))]
    if len(parts) == 1:
        return whole
    runs = []
    for size in range(len(parts) - 1, 0, -1):
        for i in range(len(parts) - size + 1):
            a, b = parts[i][0], parts[i + size - 1][1]
            raw = m.string[a:b]
            runs.append((a, b, raw, None))
    return whole + runs


def scan(text: str) -> list[Finding]:
    """Return every identifier in ``text`` (non-overlapping, in order)."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for m in _NAME.finditer(text):
        found.append(Finding("name", m.start("name"), m.end("name"), m.group("name"), True))
        taken.append((m.start("name"), m.end("name")))
    for m in _EMAIL.finditer(text):
        own = bool(_FIRST_PERSON.search(_left(text, m.start())))
        if own and free(m.start(), m.end()):
            found.append(Finding("email", m.start(), m.end(), m.group(0), True))
            taken.append((m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        if not free(m.start(), m.end()):
            continue
        for start, end, raw, cc in _spans(m):
            if not free(start, end):
                continue
            got = _classify(text, start, end, raw, cc)
            if got:
                found.append(Finding(got[0], start, end, text[start:end], got[1]))
                taken.append((start, end))
    for m in _GLUED.finditer(text):  # "DNI45678912"
        if free(m.start("num"), m.end("num")):
            kw = m.group("kw").lower()
            kind = {"cel": "phone", "tel": "phone"}.get(kw, kw)
            found.append(Finding(kind, m.start("num"), m.end("num"), m.group("num"), True))
            taken.append((m.start("num"), m.end("num")))
    for m in _SPELLED.finditer(text):  # "nueve ocho siete seis cinco cuatro tres dos uno"
        if free(m.start(), m.end()):
            own = bool(_FIRST_PERSON.search(_left(text, m.start())))
            found.append(Finding("phone", m.start(), m.end(), m.group(0), own))
            taken.append((m.start(), m.end()))
    for m in _ALNUM_DOC.finditer(text):  # passports and CE written with letters: "AB123456"
        if not free(m.start(), m.end()):
            continue
        ctx = _context(_left(text, m.start()))
        if ctx in ("passport", "ce", "dni"):
            found.append(Finding(ctx, m.start(), m.end(), m.group(0), True))
            taken.append((m.start(), m.end()))
    found.sort(key=lambda f: f.start)
    return found


def redact_text(text: str) -> str:
    """Replace every identifier found by :func:`scan` with a label such as ``[DNI redactado]``."""
    if not text:
        return text
    out, pos = [], 0
    for f in scan(text):
        out.append(text[pos : f.start])
        out.append(LABELS[f.kind])
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def lead_phones(text: str) -> list[str]:
    """Return the phone numbers in ``text`` that are not the writer's own (a seller's lead)."""
    return [re.sub(r"[^\d+]", "", f.value) or spelled_digits(f.value)
            for f in scan(text) if f.kind == "phone" and not f.own]
