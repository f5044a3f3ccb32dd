"""Entity extraction: phones, prices, quantities and forms, payment handles, places, handles, URLs."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import phonenumbers

from centinela.lib.text import fold
from centinela.reference.places import find_places

_DIGIT_WORDS = {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4",
                "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9", "zero": "0",
                "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9"}
_DIGIT_ALT = "|".join(_DIGIT_WORDS)
_DIGIT_RUN = re.compile(rf"\b(?:(?:{_DIGIT_ALT})[\s,.-]*){{7,}}", re.IGNORECASE)
_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_PRICE_PATTERNS = [
    (re.compile(rf"(?:s/\.?|s\./)\s?({_NUM})", re.I), "PEN"),
    (re.compile(rf"\b({_NUM})\s?(?:soles|sol|lucas|luquitas|pen)\b", re.I), "PEN"),
    (re.compile(rf"(?:us\$|usd|\$)\s?({_NUM})", re.I), "USD"),
    (re.compile(rf"\b({_NUM})\s?(?:usd|d[oó]lares|dollars|bucks|\$)", re.I), "USD"),
]
FORMS = {
    "ampolla": "ampoule", "ampollas": "ampoule", "ampollita": "ampoule", "ampollitas": "ampoule",
    "amp": "ampoule", "amps": "ampoule", "ampoule": "ampoule", "ampoules": "ampoule",
    "parche": "patch", "parches": "patch", "patch": "patch", "patches": "patch",
    "pastilla": "tablet", "pastillas": "tablet", "pastis": "tablet", "pill": "tablet",
    "pills": "tablet", "tableta": "tablet", "tabletas": "tablet", "tabs": "tablet",
    "frasco": "vial", "frascos": "vial", "vial": "vial", "viales": "vial", "vials": "vial",
    "caja": "box", "cajas": "box", "unidades": "unit", "unidad": "unit",
}
UNITS = {"mg": "mg", "mcg": "mcg", "µg": "mcg", "ug": "mcg", "ml": "ml", "mililitros": "ml",
         "g": "g", "gr": "g", "gramo": "g", "gramos": "g", "kg": "kg"}
_UNIT_ALT = "|".join(sorted(map(re.escape, list(FORMS) + list(UNITS)), key=len, reverse=True))
_QTY = re.compile(rf"\b(\d+(?:[.,]\d+)?)\s?({_UNIT_ALT})\b", re.I)
_TIMES = re.compile(r"(?:\bcaja\s)?\bx\s?(\d{1,4})\b(?!\s?(?:mg|mcg|ml))", re.I)
_YAPE = re.compile(r"\b(yape|yapea|yapeame|yapear|plin|plinea)\w*(?:\s*/\s*plin)?\s*(?:al|:|-|a|n[°º]?)?\s*"
                   r"((?:\+?51[\s.-]?)?9\d{2}[\s.-]?\d{3}[\s.-]?\d{3})", re.I)
_BANK = re.compile(r"\b(bcp|interbank|bbva|scotiabank|banco de la naci[oó]n|banbif|caja \w+|cci)\b"
                   r"\D{0,25}?(\d[\d -]{9,28}\d)", re.I)
_CRYPTO = [(re.compile(r"\b(bc1[ac-hj-np-z02-9]{25,59})\b"), "btc"),
           (re.compile(r"\b([13][a-km-zA-HJ-NP-Z1-9]{25,34})\b"), "btc"),
           (re.compile(r"\b(4[0-9AB][1-9A-HJ-NP-Za-km-z]{93})\b"), "xmr")]
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9_]{2,20})\b")
_AT = re.compile(r"(?<![\w.@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_]))")
_PROFILE = re.compile(r"\b(?:https?://)?(?:www\.)?(t\.me|telegram\.me|instagram\.com|tiktok\.com/@|"
                      r"facebook\.com|x\.com|twitter\.com)/([A-Za-z0-9_.]{3,40})", re.I)
_NAMED = re.compile(r"\b(snap|snapchat|wickr|kik|telegram|tg|ig|insta|signal|session)\s*[:@]?\s*"
                    r"@?([A-Za-z][A-Za-z0-9_.]{2,30})", re.I)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+|\b(?:t\.me|wa\.me)/[^\s<>\"')\]]+", re.I)
_NOT_HANDLES = frozenset({"only", "me", "for", "the", "menu", "or", "and", "y", "o", "al", "aqui",
                          "group", "grupo", "canal", "channel", "dm", "info"})


@dataclass
class Entities:
    """Everything a lead may need from one post."""

    phones: list[str] = field(default_factory=list)  # E.164
    prices: list[dict] = field(default_factory=list)
    quantities: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)  # "@name" or "platform:name"
    urls: list[str] = field(default_factory=list)
    places: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def keys(self) -> set[tuple[str, str]]:
        """Identifiers that tie posts into one lead: phones, handles, payment accounts."""
        out = {("phone", p) for p in self.phones}
        out |= {("handle", h) for h in self.handles}
        out |= {("payment", f"{p['kind']}:{p['value']}") for p in self.payments
                if p["kind"] not in ("yape", "plin")}  # Yape/Plin accounts are phone numbers
        return out


def _number(text: str) -> float:
    t = text.replace(" ", "")
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", t):
        return float(re.sub(r"[.,]", "", t))
    m = re.fullmatch(r"(\d{1,3}(?:[.,]\d{3})+)[.,](\d{1,2})", t)
    if m:
        return float(re.sub(r"[.,]", "", m.group(1)) + "." + m.group(2))
    return float(t.replace(",", "."))


def _spell_digits(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        words = re.findall(r"[a-záéíóú]+", m.group(0).lower())
        return "".join(_DIGIT_WORDS.get(w, "") for w in words) + " "
    return _DIGIT_RUN.sub(repl, text)


def phones(text: str) -> list[str]:
    """Return valid Peruvian phone numbers in E.164 (spelled-out digits included)."""
    out: list[str] = []
    for candidate in (text, _spell_digits(text)):
        for m in phonenumbers.PhoneNumberMatcher(candidate, "PE", leniency=phonenumbers.Leniency.VALID):
            e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in out:
                out.append(e164)
    return out


def _e164(raw: str) -> str:
    digits = re.sub(r"\D", "", raw)
    return "+51" + digits[-9:]


def extract(text: str) -> Entities:
    """Extract every entity kind from ``text``."""
    ent = Entities(phones=phones(text))
    for rx, currency in _PRICE_PATTERNS:
        for m in rx.finditer(text):
            try:
                amount = _number(m.group(1))
            except ValueError:
                continue
            item = {"amount": amount, "currency": currency, "text": m.group(0).strip()}
            if not any(p["amount"] == amount and p["currency"] == currency for p in ent.prices):
                ent.prices.append(item)
    for m in _QTY.finditer(text):
        unit = m.group(2).lower()
        form = FORMS.get(unit)
        ent.quantities.append({"amount": _number(m.group(1)), "unit": form or UNITS[unit],
                               "kind": "count" if form else "strength", "text": m.group(0)})
    for m in _TIMES.finditer(text):
        ent.quantities.append({"amount": float(m.group(1)), "unit": "unit", "kind": "count",
                               "text": m.group(0)})
    for m in _YAPE.finditer(text):
        kind = "plin" if fold(m.group(1)).startswith("plin") else "yape"
        ent.payments.append({"kind": kind, "value": _e164(m.group(2))})
    for m in _BANK.finditer(text):
        digits = re.sub(r"\D", "", m.group(2))
        if 10 <= len(digits) <= 20 and not re.fullmatch(r"(?:51)?9\d{8}", digits):
            ent.payments.append({"kind": "bank", "bank": fold(m.group(1)), "value": digits})
    for rx, kind in _CRYPTO:
        ent.payments += [{"kind": kind, "value": m.group(1)} for m in rx.finditer(text)]
    ent.payments += [{"kind": "cashapp", "value": "$" + m.group(1).lower()} for m in _CASHTAG.finditer(text)]
    handles: list[str] = []
    for m in _AT.finditer(text):
        handles.append("@" + m.group(1).lower().rstrip("."))
    for m in _PROFILE.finditer(text):
        handles.append("@" + m.group(2).lower().rstrip("."))
    for m in _NAMED.finditer(text):
        name = m.group(2).lower().rstrip(".")
        if name not in _NOT_HANDLES and not name.startswith(("t.me", "wa.me")):
            handles.append("@" + name)
    ent.handles = list(dict.fromkeys(handles))
    ent.urls = list(dict.fromkeys(m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)))
    for url in ent.urls:
        m = re.search(r"wa\.me/(\d{9,12})", url)
        if m and (p := _e164(m.group(1))) not in ent.phones:
            ent.phones.append(p)
    ent.places = [p.as_dict() for p in find_places(text)]
    return ent
