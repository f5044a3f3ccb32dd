"""Redaction of personal identifiers in citizens' free text, with real token boundaries.

Peruvian document numbers (DNI 8 digits with optional check digit, carné de extranjería 9,
passport, RUC of a person 10…/15…/17…) and phone numbers are found as *number tokens* — digits
possibly grouped with spaces, dots or hyphens (also " - " and one digit at a time), optionally
after +51 and a bracketed area code — never inside words, then classified by their shape and by
the words around them ("DNI", "mi documento", "carnet", "cel", "llámame al"). Numbers that are
prices, dates, doses, quantities, times, street numbers, order/tracking/receipt/lot numbers or a
professional's public licence number (CMP, CEP, CQFP…) are left alone.

Names are redacted where writers give their own ("me llamo …", "mi nombre es …", "soy …",
Quechua "sutiyqa …"), and a person named with an honorific ("la señora Gladys …", "Doña
Julia") unless the sentence ties that person to the sale. The writer's home address is
redacted after "vivo en / mi casa está en / my address is" (the address of the place of sale
is kept). E-mails are redacted unless tied to the seller; public institutional addresses
(``…gob.pe``) are kept.

**Whose number is it.** Every phone is removed from the text; :func:`scan` also says whose it
reads as (``Finding.owner``): ``self`` (mi/mío/es mío/de mi casa/llámame/Quechua ñuqa, ñuqaq,
the possessive -y of *celularniy*), ``other`` (a witness, neighbour or bystander: vecina,
testigo, "vio todo", "no tiene nada que ver"), ``seller`` (the text ties it to the seller:
"el que vende", "del proveedor", "vendedor", "dealer", "para pedidos", "catálogo", a
pharmacy's number, "his number" when the sentence or the one before names only the seller) or
``unknown``. Only ``seller`` numbers are leads that the report keeps in its ``contact`` field;
when unsure, the number is dropped (privacy first).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from centinela.lib.text import fold_keep_enye as fold

# A number token: digit groups joined by a space, a dot or a hyphen (" - " too), no letters
# glued on either side, optionally after +51 / 0051 and a bracketed area code ("(01)", "(076)").
# Group lengths are checked in Python.
_NUMBER = re.compile(
    r"(?<![\w/,.+-])(?P<cc>(?:\+|00)\s?51[\s.-]?)?"
    r"(?P<area>\(\s?0?(?:1|[4-8]\d)\s?\)[\s.-]?)?"
    r"(?P<num>\d{1,11}(?:(?:[ \t]?[.\-][ \t]?|[ \t])\d{1,11}){0,11})"
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
                        r"\byape\b|\bplin\b|\byape(?:e|o|ar|aron|a)\b|"
                        r"\b(?:llam(?:a|e|en|ar|ame|enme|ando|aron|o)|marca|escrib(?:e|a|ir|"
                        r"eme|anme|ieron)|contact(?:a|ar|ame|enme|o)|avis(?:a|ame|ar)|"
                        r"call|text|msg|mensaje)\b)" + _FILLER + r"$"),
}
# Phone words that only say "number" ("número de pedido", "nro. de colegiatura"): with them a
# number that is not shaped like a phone gets the neutral label.
_GENERIC_NUMBER_WORD = re.compile(r"\b(?:numero|nro|number|n)\b\.?" + _FILLER + r"$")
# A phone word a few words back ("el teléfono de la botica es (01) 456-7890").
_PHONE_NEAR = re.compile(r"\b(?:cel(?:ular)?|movil|telefono|telf|tlf|tel|fono|whats?app|wsp|"
                         r"wasap|phone|fijo|numero)\b(?:\W+\w+){0,5}\W*$")
_GLUED = re.compile(r"\b(?P<kw>DNI|CE|RUC|CEL|TEL)(?P<num>\d{8,11})\b", re.IGNORECASE)
# Order, tracking, receipt, lot… numbers: kept verbatim (not a person's identifier). "pedidos al
# 9…" (plural, for orders) and "a la orden 9…" (a seller's "at your service") are phones.
_REFERENCE_BEFORE = re.compile(
    r"(?:\b(?:codigo|cod|numero|nro|n|no|num|#)\.?\s*(?:de\s+)?(?:rastreo|seguimiento|"
    r"envio|guia|tracking|pedido|orden|operacion|transaccion|boleta|factura|recibo|ticket|"
    r"voucher|lote|serie|expediente|comprobante|constancia|registro sanitario|"
    r"autorizacion|suministro|placa|denuncia|caso|partida)\b|"
    r"\b(?:rastreo|tracking(?: number| code| no)?|guia(?: de remision)?|pedido|"
    r"(?<!la )(?<!al )orden(?: de compra)?|order(?: number| no)?|boleta(?: de venta)?|"
    r"factura|recibo|receipt|ticket|voucher|invoice|lote|lot|batch|serie|expediente|"
    r"comprobante|constancia|operacion|transaccion|transaction|registro sanitario|"
    r"reg\.? ?san\.?|r\.? ?s\.?|placa|plate|encomienda|paquete)\b)" + _FILLER + r"$"
)
# A professional's licence number is a public registry id (CMP, CEP, CQFP, COP, CPsP, CMVP,
# "colegiatura"): kept, see docs/public.md § Redaction.
_LICENCE_BEFORE = re.compile(
    r"(?:\bc\.?\s?(?:m|e|q\.?\s?f|o|ps|m\.?\s?v|b|t\.?\s?m|obs|o\.?\s?p)\.?\s?p\b\.?|"
    r"\bcolegiatura\b|\bcolegiad[oa]\b|\bcolegio (?:medico|de enfermeros|quimico|"
    r"farmaceutico|odontologico|de psicologos)\b(?: del peru)?|\brne\b|\bmatricula\b|"
    r"\blicencia profesional\b|\bmedical licen[cs]e\b)"
    + _FILLER + r"$"
)
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
# Words are whole words: "a" must not match the end of "Rosa" or "botica" (a DNI after a
# name ending in "a" was kept as a price).
_CURRENCY_BEFORE = re.compile(r"(?:(?<![a-z])s/\.?|\$|(?<![a-z])us\$|€|\b(?:usd|soles|precio|"
                              r"costo|cuesta|cuestan|vale|valen|pague|pagaron|cobran|cobra|a|"
                              r"por|total))\s*$")
# Before eight digits only money itself makes a price: "a", "por" or "total" before a
# DNI-sized number ("se lo vendió a 45678912") do not.
_MONEY_BEFORE = re.compile(r"(?:(?<![a-z])s/\.?|\$|(?<![a-z])us\$|€|\b(?:usd|soles|precio|"
                           r"costo|cuesta|cuestan|vale|valen|pague|pagaron|cobran|cobra))\s*$")
_ADDRESS_BEFORE = re.compile(r"\b(?:av|avenida|jr|jiron|calle|ca|psje|pasaje|mz|lt|lote|"
                             r"manzana|km|cuadra|cdra|nro|n°|numero|piso|dpto|departamento|"
                             r"int|interior|urb|block|puerta|ruta|linea|bus|combi|carro|"
                             r"placa|mototaxi|ano|year|dia|el|del|desde|hasta|entre|y|de)"
                             r"\.?\s*$")
_DATE = re.compile(r"^(\d{1,2})[.\-](\d{1,2})[.\-](\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})[.\-](\d{1,2})[.\-](\d{1,2})$")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# An e-mail spelled out to slip past filters: "juan arroba gmail punto com".
_SPELLED_EMAIL = re.compile(
    r"(?<![\w.])(?!(?:es|is|son|a|al|en|mi|my|el|la|de|email|e-mail|correo|mail|to|me|y|and)\b)"
    r"[\w.+-]+(?:\s+(?:punto|dot)\s+[\w-]+|\s+[a-z]\w+(?=\s+(?:arroba|at)\b))?"
    r"(?:\s+(?:punto|dot)\s+[\w-]+)*\s*(?:\barroba\b|\(at\)|\[at\]|\bat\b)\s*"
    r"[\w-]+(?:\s*(?:\bpunto\b|\bdot\b|\.)\s*(?:com|pe|net|org|edu|es|gob|info|io|co|us|mx|ar|"
    r"cl|bo|ec|ve|br|uk))+\b",
    re.IGNORECASE,
)
_PUBLIC_EMAIL = re.compile(r"(?:\.gob\.pe|\.gov|\.gob\.[a-z]{2}|\.mil\.pe)$", re.IGNORECASE)
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
          "document": "[documento redactado]", "number": "[número redactado]",
          "name": "[nombre redactado]", "email": "[correo redactado]",
          "address": "[dirección redactada]"}
OWNERS = ("self", "other", "seller", "unknown")
# A label left by an earlier pass is opaque to the next one: it is never redacted again and
# its words are not cues ("teléfono" in "[teléfono redactado]" is no phone word for the number
# after it). Stored reports are re-redacted with ``centinela report redact-stored``.
_LABEL = re.compile("|".join(re.escape(v) for v in sorted(set(LABELS.values()), key=len,
                                                          reverse=True)))


def _mask_labels(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with every label masked, and the labels' spans.

    The mask has the label's length (spans stay spans of ``text``) and reads, to the rules, as
    the one number token a label most often replaced: blocks (no word, space or punctuation)
    ending in one digit that no rule can take (it is inside a taken span).
    """
    spans = [(m.start(), m.end()) for m in _LABEL.finditer(text)]
    for a, b in spans:
        text = text[:a] + "\u2588" * (b - a - 1) + "0" + text[b:]
    return text, spans


@dataclass(frozen=True)
class Finding:
    """One identifier found in a text: its kind, span and whose it reads as.

    ``owner`` is ``self`` (the writer), ``other`` (a witness or bystander), ``seller`` or
    ``unknown``; ``own`` is ``owner == "self"``.
    """

    kind: str  # dni, ce, passport, ruc, phone, document, number, name, email, address
    start: int
    end: int
    value: str
    own: bool
    owner: str = "unknown"


# ---------------------------------------------------------------- whose is it

# The writer: possessives near the number, "llámame", Quechua ñuqa/ñuqaq and the possessive -y
# of a phone word ("celularniy", "yupayniy").
_SELF_CUE = (
    r"\b(?:mi|mis|my|mine|nuestr[oa]s?|our|conmigo|"
    r"[ñn][uo]qa\w*|"
    r"llamame|llamenme|llamarme|escribeme|escribanme|escribirme|contactame|contactenme|"
    r"contactarme|avisame|avisenme|avisarme|ubicame|ubicarme|ubiquenme|comunicate conmigo|"
    r"me (?:pueden |puede |podrian |podria |pueda |puedan )?(?:llamar|escribir|ubicar|"
    r"contactar|marcar|encontrar|avisar|timbrar|yapear)|me (?:llaman|escriben|encuentran|ubican)|"
    r"call me|text me|reach me|contact me|message me|ring me|whatsapp me|"
    r"(?:celular|cel|telefono|numero|yupay|wsp|whatsapp|fono|correo)(?:ni|i)?y(?:qa|mi|ta|pa)?|"
    r"wasiy\w*)\b"
)
# Right after a number: "es el mío", "(es mio)", "de mi casa", "is mine".
_SELF_AFTER = re.compile(
    r"^\W{0,3}(?:(?:(?:es|era|son|is|that'?s|it'?s)\s+)?(?:(?:el|la|los|las)\s+)?"
    r"(?:mio|mia|mios|mias|mine|my own)\b|(?:es|is|son)\s+(?:mi|my|nuestro|nuestra|our)\b|"
    r"(?:de|from)\s+(?:mi|my|nuestra|nuestro|our)\b|[ñn][uo]qaq\b|kani\b)"
)
# A witness, neighbour or bystander (never the seller).
_OTHER_CUE = (
    r"\b(?:vecin[oa]s?|testigos?|witness\w*|neighbou?rs?|transeunte\w*|peaton\w*|"
    r"vio todo|vieron todo|lo vio|la vio|lo vieron|saw (?:it|everything|all)|"
    r"(?:no )?tiene nada que ver|nada que ver|not involved|nothing to do|"
    r"no sabe nada|es inocente|innocent)\b"
)
# The seller as a noun phrase (a lead), or an offer: "el que vende", "del proveedor", "catálogo",
# "para pedidos", a pharmacy's number, "yapeé al".
_SELLER_NOUN = (
    r"\b(?:vendedor\w*|(?:el|la|los|las|quien|quienes|tipo|pata|chico|chica|joven|senor|senora|"
    r"hombre|mujer|man|guy|woman)\s+(?:que\s+)?(?:vend\w+|ofrec\w+|distribuy\w+|reparte\w*|"
    r"despach\w+|sells?|selling|deals?|dealing)|dealers?|proveedor\w*|distribuidor\w*|"
    r"microcomercializador\w*|comercializador\w*|jibaro\w*|traficante\w*|narcos?|brichero\w*|"
    r"sellers?|suppliers?|plug|pusher\w*|pedidos|para (?:comprar|pedir|encargar|pedidos|"
    r"separar)|contacto para|delivery|catalogo\w*|anuncio\w*|publicacion\w*|"
    r"captura\w*|pantallazo\w*|screenshot\w*|posts?|listing|ad|ads|for orders|to order|"
    r"to buy|yape\w*|plin\b|te lo (?:llevan|lleva|traen|trae|mandan|manda)|lo (?:llevan|traen)|"
    r"a domicilio|botica\w*|farmacia\w*|drogueria\w*|pharmacy|drugstore)\b"
)
# The seller as a verb ("venden", "ofrece"): weaker — a witness in the same sentence wins.
_SELLER_VERB = (
    r"\b(?:vend(?:e|en|ia|ian|io|ieron|iendo|er)|ofrec\w+|ofert\w+|sells?|selling|sold|"
    r"offer(?:s|ed|ing)?|deal(?:s|ing)?|distribuy\w+|comercializ\w+|"
    r"trafic(?:a|an|aba|aban|ando|ante|antes)|ventas?)\b"
)
# A pronoun whose referent decides: su/his/her "number", "le escribí al".
_PRONOUN = r"\b(?:su|sus|suyo|suya|his|her|their|him|them|he|she|they|le|les|de el|de ella)\b"
_CUE = re.compile(
    rf"(?P<self>{_SELF_CUE})|(?P<other>{_OTHER_CUE})|(?P<seller>{_SELLER_NOUN})|"
    rf"(?P<pronoun>{_PRONOUN})|(?P<verb>{_SELLER_VERB})"
)
_OTHER_RE = re.compile(_OTHER_CUE)
_SELLER_RE = re.compile(f"{_SELLER_NOUN}|{_SELLER_VERB}")
SELF_REACH = 45  # "mi" etc. claim a number only this close (folded characters)

_ABBREVIATIONS = frozenset("""cel tel telf tlf av ave jr sr sra srta dr dra nro no num psje pje
mz lt urb dpto depto int ca prol etc st mr mrs ms edif of cdra aa hh sto sta gral cap ing lic
prof mza jiron calle""".split())
_BOUNDARY = re.compile(r"[!?;\n…]+|\.(?=\s|$)")


def _boundaries(text: str) -> list[int]:
    """Positions where a sentence ends (after '!', '?', ';', a line break, '…', or a full stop
    that is not an abbreviation such as "cel." or "Jr.")."""
    out = []
    for m in _BOUNDARY.finditer(text):
        if m.group(0) == ".":
            word = re.search(r"(\w+)$", text[: m.start()])
            if word and (len(word.group(1)) == 1 or word.group(1).lower() in _ABBREVIATIONS):
                continue
        out.append(m.end())
    return out


def _sentence(bounds: list[int], start: int, end: int, n: int) -> tuple[int, int, int]:
    """(start of the previous sentence, start of this sentence, end of this sentence)."""
    before = [b for b in bounds if b <= start]
    this_start = before[-1] if before else 0
    prev_start = before[-2] if len(before) > 1 else 0
    after = [b for b in bounds if b > end]
    return prev_start, this_start, after[0] if after else n


def _resolve(window: str) -> str:
    """Whom a pronoun ("su", "his") points to in ``window``: a witness anywhere makes it
    ``other`` (ambiguous is not a lead); else the seller when the window names one."""
    if _OTHER_RE.search(window):
        return "other"
    if _SELLER_RE.search(window):
        return "seller"
    return "unknown"


def _owner(text: str, start: int, end: int, bounds: list[int]) -> str:
    """Whose identifier the span ``text[start:end]`` reads as: self, other, seller, unknown."""
    prev_start, sent_start, sent_end = _sentence(bounds, start, end, len(text))
    left = fold(text[max(sent_start, start - 160) : start])
    right = fold(text[end : min(sent_end, end + 60)])
    sentence = fold(text[sent_start:sent_end])
    wide = fold(text[max(prev_start, start - 320) : sent_end])
    if _SELF_AFTER.match(right):
        return "self"
    cues = list(_CUE.finditer(left))
    last = cues[-1] if cues else None
    near = len(left) - last.end() if last else 999
    first_right = _CUE.search(right)
    kinds = []
    if last is not None:
        kind = last.lastgroup
        if kind != "self" or near <= SELF_REACH:
            kinds.append(kind)
    if first_right is not None and first_right.start() <= 30:
        kinds.append(first_right.lastgroup)
    if "self" in kinds:
        return "self"
    if "other" in kinds:
        return "other"
    if "pronoun" in kinds:
        return _resolve(wide)
    if "seller" in kinds:
        # The seller named closest to the number wins over a witness earlier in the sentence
        # ("mi vecina dice que el que vende tiene el 9…").
        return "seller"
    if "verb" in kinds:
        return "other" if _OTHER_RE.search(sentence) else "seller"
    return "unknown"


# ---------------------------------------------------------------- numbers


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


def _phone_shaped(digits: str, area: bool) -> bool:
    """Shapes of Peruvian phones: mobile 9xx xxx xxx, landlines of 6–7 digits, with area code."""
    n = len(digits)
    if area:
        return 5 <= n <= 8
    return ((n == 9 and digits[0] == "9") or n in (6, 7)
            or (n in (8, 9) and digits[0] == "0"))


def _classify(text: str, start: int, end: int, raw: str, cc: str | None,
              area: str | None = None) -> str | None:
    """Return the kind of a number token, or None when it is not an identifier."""
    sep_groups = [g for g in re.split(r"[ \t.\-]+", raw) if g]
    digits = "".join(sep_groups)
    norm = re.sub(r"[ \t]*([.\-])[ \t]*", r"\1", raw)  # "12 - 03 - 2025" reads as a date
    n = len(digits)
    left = _left(text, start)
    right = fold(text[end : end + 25])
    ctx = _context(left)
    if (cc or area) and 5 <= n <= 9 and (n == 9 and digits[0] == "9" or area or cc and n >= 6):
        return "phone"
    if _LICENCE_BEFORE.search(left):
        return None  # a professional's public licence number
    if ctx not in ("dni", "ce", "passport", "ruc") and _REFERENCE_BEFORE.search(left):
        return None  # tracking, order, receipt, lot… numbers are kept verbatim
    # One digit at a time to slip past filters: "9 8 7 6 5 4 3 2 1".
    spaced = len(sep_groups) >= 7 and all(len(g) == 1 for g in sep_groups)
    if spaced and n == 9 and digits[0] in "90" and ctx in (None, "phone"):
        return "phone"
    if not _grouping_ok(sep_groups) and ctx is None:
        return None
    if _UNIT_AFTER.match(right) and ctx is None:
        return None
    if ctx is None and 6 <= n <= 11 and _PHONE_NEAR.search(left) and not _UNIT_AFTER.match(right):
        ctx = "phone"
    if ctx is None and (_DATE.match(norm) or _ISO_DATE.match(norm)):
        return None
    check = len(sep_groups) > 1 and len(sep_groups[-1]) == 1  # DNI check digit "-3"
    body = digits[:-1] if check else digits
    if ctx in ("dni", "ce", "passport", "ruc") and 6 <= n <= 12:
        if ctx == "ruc" and not (n == 11 and digits[:2] in ("10", "15", "17")):
            own = bool(re.search(r"\b(?:mi|my)\b", left))
            return "ruc" if own else None  # a company RUC (20…) is public information
        return ctx
    if ctx == "phone" and 6 <= n <= 11:
        if _GENERIC_NUMBER_WORD.search(left) and not _phone_shaped(digits, False):
            return "number"  # "número 12345678": an identifier, but not surely a phone
        return "phone"
    if (n == 11 and digits[:2] in ("10", "15", "17")
            and [len(g) for g in sep_groups] in ([11], [2, 8, 1])):
        return "ruc"
    if len(body) == 8 and (check or not _is_date(digits)):
        if _MONEY_BEFORE.search(left) or _ADDRESS_BEFORE.search(left) and len(sep_groups) > 1:
            return None
        return "dni"
    if n == 9 and digits.startswith("9"):
        return "phone"
    if n == 9 and digits.startswith("0"):  # landline with area code: 01 4567890, 044 123456
        return "phone"
    if n == 9 and not _CURRENCY_BEFORE.search(left):
        return "document"
    return None


def _spans(m: re.Match) -> list[tuple[int, int, str, str | None, str | None]]:
    """The whole number token, then its runs of groups, longest first ("a las 10 987654321")."""
    whole = [(m.start(), m.end(), m.group("num"), m.group("cc"), m.group("area"))]
    base = m.start("num")
    parts = [(g.start() + base, g.end() + base) for g in re.finditer(r"\d+", m.group("num"))]
    if len(parts) == 1:
        return whole
    # Groups joined tightly by a dot or hyphen ("45.678.912", "555-1234") are one number: a run
    # never starts or ends inside one, so a spaced phone before a dotted DNI cannot take the
    # DNI's first group and leave the rest of it in the text.
    tight = [bool(re.fullmatch(r"[.\-]", m.string[parts[j][1]:parts[j + 1][0]]))
             for j in range(len(parts) - 1)]
    runs = []
    for size in range(len(parts) - 1, 0, -1):
        for i in range(len(parts) - size + 1):
            last = i + size - 1
            if (i > 0 and tight[i - 1]) or (last < len(parts) - 1 and tight[last]):
                continue
            a, b = parts[i][0], parts[last][1]
            raw = m.string[a:b]
            runs.append((a, b, raw, None, None))
    return whole + runs


# ---------------------------------------------------------------- names and addresses

# Cues after which the writer gives their own name. Strong ones take a lowercase name too.
_NAME_CUE = re.compile(
    r"(?i:\b(?P<strong>me\s+llamo|mi\s+nombre\s+(?:es|:)|mi\s+nombre\s+completo\s+es|"
    r"my\s+name\s+is|my\s+name'?s|i\s+am\s+called|"
    r"soy\s+(?:el|la)\s+(?:señor|señora|senor|senora|sr\.?|sra\.?|señorita|srta\.?)|"
    r"sutiy(?:qa|mi|ga)?|sutiyqa|[ñn][uo]qa(?:pa)?\s+sutiy\w*)|"
    r"\b(?P<weak>soy|i\s+am|i'm|[ñn][uo]qa(?:qa|ymi|mi)?))\s+"
)
# A person named with an honorific: kept only when the sentence ties them to the sale.
_HONORIFIC = re.compile(
    r"\b(?:[Ss]e[ñn]ora|[Ss]e[ñn]or|[Ss]e[ñn]orita|[Ss]ra\.?|[Ss]r\.?|[Ss]rta\.?|[Dd]o[ñn]a|"
    r"[Dd]on|Mrs\.?|Mr\.?|Ms\.?|[Ll]ic\.?|[Ii]ng\.?|[Pp]rof\.?|"
    # a neighbour, witness or relative named: "mi vecina Rosa", "my neighbour Ana"
    r"(?i:(?:mi|mis|la|el|una|un|su|my|our|the|a)\s+(?:vecin[oa]|testigo|amig[oa]|espos[oa]|"
    r"herman[oa]|hij[oa]|mama|mamá|papa|papá|madre|padre|t[ií][oa]|prim[oa]|cuñad[oa]|"
    r"sobrin[oa]|abuel[oa]|novi[oa]|pareja|suegr[oa]|neighbou?r|friend|wife|husband|"
    r"brother|sister|son|daughter|mother|father|mom|dad|cousin|witness))[,]?)"
    r"\s+(?=[A-ZÁÉÍÓÚÑ])"
)
_NAME_WORD = re.compile(r"[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+(?:-[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+)?|"
                        r"[A-ZÁÉÍÓÚÑ]{2,}(?![\w])")
_LOWER_WORD = re.compile(r"[a-záéíóúñü]{2,}(?![\w])")
_CONNECTOR = re.compile(r"(?:de\s+(?:la\s+|los\s+)?|del\s+|y\s+)(?=[A-ZÁÉÍÓÚÑ])")
_DOC_WORDS = frozenset("dni ce ruc cel tel telf wsp pas doc nro av jr mz lt urb".split())
# Words that follow "soy"/"I am"/"ñuqa" and are not a name: roles, origins, states.
_NOT_A_NAME = frozenset("""
el la los las lo un una uno de del al a y o que muy tan mas yo tu su mi no si ya bien mal
testigo vecino vecina vecinos madre padre mama papa enfermero enfermera medico medica doctor
doctora profesor profesora docente estudiante alumno alumna policia serenazgo trabajador
trabajadora comerciante taxista mototaxista chofer conductor ama abogado abogada quimico quimica
farmaceutico farmaceutica tecnico tecnica obstetra dentista psicologo psicologa periodista
dirigente presidente presidenta teniente alcalde regidor usuario usuaria cliente clienta paciente
familiar hijo hija hermano hermana tio tia abuelo abuela esposo esposa joven menor mayor nuevo
nueva extranjero extranjera peruano peruana venezolano venezolana colombiano colombiana boliviano
boliviana ecuatoriano ecuatoriana chileno chilena argentino argentina brasileno brasilena
mexicano mexicana haitiano haitiana chino china americano americana espanol espanola limeno
limena chalaco chalaca piurano piurana chiclayano chiclayana trujillano trujillana ayacuchano
ayacuchana huancaino huancaina chimbotano chimbotana cajamarquino cajamarquina cusqueno cusquena
loretano loretana tumbesino tumbesina iqueno iquena tacneno tacnena puneno punena arequipeno
arequipena huanuqueno huanuquena huaracino huaracina ancashino ancashina cristiano cristiana
catolico catolica evangelico evangelica anonimo anonima parte miembro integrante responsable
dueno duena propietario propietaria vendedor vendedora consumidor consumidora adicto adicta
victima sobreviviente ciudadano ciudadana habitante residente poblador pobladora rondero
rondera dirigenta promotor promotora voluntario voluntaria agente serenazgo quien alguien
consciente capaz incapaz feliz solo sola casado casada soltero soltera viudo viuda mamá papá
importante reservado reservada secreto secreta irrelevante confidencial asi porque pues nomas
cuando como para pero tambien ahora aqui hoy
i a an the not from worried scared afraid sure sorry here writing calling reporting just also
very so in at on nurse doctor teacher student neighbor neighbour mother father parent witness
peruvian venezuelan resident pharmacist police officer going trying concerned
kani kanki kachkani
""".split())
_NAME_SUFFIX_NOT = re.compile(r"(?:eño|eña|ense|\w{3}manta|\w{3}mantam|\w{3}pi)$")
# Common given names: a lowercase word after "soy" is a name only when it is one of these.
_GIVEN_NAMES = frozenset("""
juan jose luis carlos jorge miguel pedro manuel victor cesar julio jesus david daniel alejandro
fernando ricardo roberto eduardo javier raul oscar mario hugo walter edwin wilmer william jhon
john jhonny kevin brayan bryan diego andres sergio antonio francisco rafael alberto angel martin
hector ruben julian christian cristian marco marcos pablo gustavo percy elmer alex alexander
richard franklin jaime ivan renzo piero gabriel sebastian mateo santiago nicolas teodoro
maria rosa ana carmen juana luz elena julia gladys martha marta sonia patricia silvia lucia carla
karla andrea diana claudia milagros fiorella jessica yesenia flor norma nancy ruth betty elizabeth
isabel teresa victoria veronica sandra monica liliana lourdes esther gloria pilar susana cecilia
paola vanessa valeria camila sofia daniela gabriela alejandra fernanda natalia mariela roxana
zoila yolanda angela pamela katherine evelyn marleny maritza haydee rocio mercedes beatriz
""".split())


def _name_run(text: str, pos: int, lowercase: bool) -> tuple[int, int] | None:
    """The span of up to five name words starting at ``pos`` (capitalised, or lowercase when
    ``lowercase``), or None."""
    words = 0
    i, end = pos, None
    while words < 5:
        m = _NAME_WORD.match(text, i) or (_LOWER_WORD.match(text, i) if lowercase else None)
        if not m:
            break
        word = fold(m.group(0))
        if word in _DOC_WORDS or (words == 0 and (word in _NOT_A_NAME
                                                   or _NAME_SUFFIX_NOT.search(word))):
            break
        if lowercase and word in _NOT_A_NAME:
            break
        end, words = m.end(), words + 1
        gap = re.match(r"[ \t]+", text[end:])
        if not gap:
            break
        i = end + gap.end()
        conn = _CONNECTOR.match(text, i)
        if conn and not lowercase:
            i = conn.end()
    return (pos, end) if end else None


def _self_names(text: str) -> list[tuple[int, int]]:
    """Names the writer gives as their own."""
    out = []
    for m in _NAME_CUE.finditer(text):
        pos = m.end()
        strong = m.group("strong") is not None
        span = _name_run(text, pos, lowercase=False)
        if span is None:
            low = _LOWER_WORD.match(text, pos)
            if low and (strong or fold(low.group(0)) in _GIVEN_NAMES):
                span = _name_run(text, pos, lowercase=True)
                if span and not strong:
                    # after "soy", a lowercase name is its given names (+ two more words only
                    # when a comma or a document follows: "soy juan perez, vivo en …")
                    words = list(re.finditer(r"\S+", text[span[0] : span[1]]))
                    keep = 0
                    for w in words:
                        if fold(w.group(0)) in _GIVEN_NAMES:
                            keep += 1
                        else:
                            break
                    after = text[span[1] : span[1] + 12]
                    if not (len(words) <= keep + 2 and re.match(r"\s*(?:,|\.|$|dni|con dni)",
                                                                  after, re.IGNORECASE)):
                        span = (span[0], span[0] + words[keep - 1].end()) if keep else None
        if span:
            out.append(span)
    return out


_ADDRESS_CUE = re.compile(
    r"(?i:\b(?P<own>vivo|vivimos|resido|residimos|domiciliad[oa]|"
    r"mi\s+(?:casa|domicilio|direcci[oó]n|depa|departamento|cuarto|vivienda|hogar)"
    r"(?:\s+(?:est[aá]|queda|es|se\s+ubica|se\s+encuentra))?|"
    r"nuestra\s+casa(?:\s+(?:est[aá]|queda|es))?|"
    r"my\s+(?:address|house|home|place|apartment|flat)(?:\s+is)?|i\s+live|we\s+live)|"
    r"\b(?P<third>vive|viven|reside|residen))"
    r"(?i:\s*(?:en|at|on|in|:|es|is)\b|\s*:)[ \t]*(?:(?:la|el|los|las|the)\s+)?"
    r"|(?i:\b(?P<qu>wasiy(?:qa|mi)?|tiyanay(?:qa|mi)?)\b)[ \t:]*"  # Quechua: my house (is)
)
_STREET = (r"av|ave|avenida|jr|jiron|calle|ca|psje|pje|pasaje|mz|mza|manzana|lt|lote|urb|"
           r"urbanizacion|aa\.?\s?hh|asentamiento|pueblo joven|pj|block|bloque|edificio|edif|"
           r"torre|condominio|residencial|conjunto|cooperativa|prolongacion|prol|carretera|km|"
           r"cuadra|cdra|dpto|depto|departamento|depa|int|interior|piso|street|st|avenue|road|rd")
_STREET_RE = re.compile(rf"\b(?:{_STREET})\b\.?", re.IGNORECASE)
_ADDRESS_MORE = re.compile(rf"\s*(?:(?:{_STREET})\b|n[°º]|nro\b|#|\d)", re.IGNORECASE)
_ADDRESS_STOP = re.compile(
    r"\s(?:y|e|o|pero|que|donde|cuando|porque|hace|desde|hasta|con|sin|para|por|cerca|frente|"
    r"junto|al|a|en|and|but|where|near|since|with|next|opposite|across|hay|venden|vende|esta|"
    r"está)\b")


def _address_span(text: str, pos: int, bounds: list[int]) -> tuple[int, int] | None:
    """The address that starts at ``pos`` (up to the clause's end), or None when what follows
    is not an address (a district alone, "vivo en Lima hace 20 años")."""
    stop = min([b for b in bounds if b > pos] + [len(text), pos + 120])
    segment = text[pos:stop]
    segment = re.split(r"[()]", segment)[0]
    pieces = segment.split(",")
    kept = pieces[0]
    for piece in pieces[1:]:
        if _ADDRESS_MORE.match(piece):
            kept += "," + piece
        else:
            break
    cut = _ADDRESS_STOP.search(kept)
    if cut:
        kept = kept[: cut.start()]
    kept = kept.rstrip(" \t.,:;-")
    if not kept:
        return None
    street = _STREET_RE.search(kept)
    has_digit = re.search(r"\d", kept)
    named = street and re.search(r"[A-ZÁÉÍÓÚÑ]", kept[street.end():])
    numbered = re.search(r"[A-ZÁÉÍÓÚÑ][\wáéíóúñ]+\s+\d{1,5}\b", kept)
    if not ((street and (has_digit or named)) or numbered):
        return None
    return pos, pos + len(kept)


# ---------------------------------------------------------------- scan


def scan(text: str, default_owner: str = "unknown") -> list[Finding]:
    """Return every identifier in ``text`` (non-overlapping, in order).

    ``default_owner`` is the owner of a phone that the words do not tie to anyone: ``unknown``
    for free text; the establishment-name field passes ``seller`` (what is typed there is the
    reported place).
    """
    found: list[Finding] = []
    # Labels of an earlier pass are taken already; the rules read them as a neutral mask of
    # the same length (so every span below is also a span of the caller's text).
    text, taken = _mask_labels(text)
    bounds = _boundaries(text)

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def add(kind: str, a: int, b: int, owner: str) -> None:
        found.append(Finding(kind, a, b, text[a:b], owner == "self", owner))
        taken.append((a, b))

    def owner_of(a: int, b: int) -> str:
        who = _owner(text, a, b, bounds)
        return default_owner if who == "unknown" else who

    for a, b in _self_names(text):
        if free(a, b):
            add("name", a, b, "self")
    for m in _HONORIFIC.finditer(text):
        span = _name_run(text, m.end(), lowercase=False)
        if span and free(*span):
            _, s_start, s_end = _sentence(bounds, span[0], span[1], len(text))
            sentence = fold(text[s_start:s_end])
            tied = ((default_owner == "seller" or _SELLER_RE.search(sentence))
                    and not _OTHER_RE.search(sentence))
            if not tied:
                add("name", span[0], span[1], "other")
    for m in _ADDRESS_CUE.finditer(text):
        span = _address_span(text, m.end(), bounds)
        if span and free(*span):
            own = m.group("own") or m.group("qu")
            who = "self" if own else _owner(text, m.start(), m.end(), bounds)
            if who != "seller":
                add("address", span[0], span[1], "self" if who == "self" else "other")
    for m in list(_EMAIL.finditer(text)) + list(_SPELLED_EMAIL.finditer(text)):
        if not free(m.start(), m.end()):
            continue
        if _PUBLIC_EMAIL.search(m.group(0)):
            continue  # an institution's public address (denuncias@…gob.pe)
        who = owner_of(m.start(), m.end())
        if who != "seller":
            add("email", m.start(), m.end(), who)
    for m in _NUMBER.finditer(text):
        if not free(m.start(), m.end()):
            continue
        for start, end, raw, cc, area in _spans(m):
            if not free(start, end):
                continue
            kind = _classify(text, start, end, raw, cc, area)
            if kind:
                add(kind, start, end, owner_of(start, end))
    for m in _GLUED.finditer(text):  # "DNI45678912"
        if free(m.start("num"), m.end("num")):
            kw = m.group("kw").lower()
            kind = {"cel": "phone", "tel": "phone"}.get(kw, kw)
            add(kind, m.start("num"), m.end("num"),
                owner_of(m.start(), m.end()) if kind == "phone" else "self")
    for m in _SPELLED.finditer(text):  # "nueve ocho siete seis cinco cuatro tres dos uno"
        if free(m.start(), m.end()):
            add("phone", m.start(), m.end(), owner_of(m.start(), m.end()))
    for m in _ALNUM_DOC.finditer(text):  # passports and CE written with letters: "AB123456"
        if not free(m.start(), m.end()):
            continue
        ctx = _context(_left(text, m.start()))
        if ctx in ("passport", "ce", "dni"):
            add(ctx, m.start(), m.end(), "self")
    found.sort(key=lambda f: f.start)
    return found


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text) if not text.isascii() else text


MAX_PASSES = 4


def redact_text(text: str, default_owner: str = "unknown",
                kinds: frozenset[str] | None = None) -> str:
    """Replace every identifier found by :func:`scan` with a label such as ``[DNI redactado]``.

    Used for every free-text field of a public report (text, additions, establishment name;
    the latter with ``default_owner="seller"``: "Bodega Doña Juanita" names the place).

    Idempotent: labels are never redacted again, and the text is scanned again until a pass
    finds nothing (at most ``MAX_PASSES``), because a number read beside its neighbour can be
    missed and then found once the neighbour is a label ("(01) 555-1234 001234567"). So
    ``redact_text(redact_text(t)) == redact_text(t)``.

    ``kinds`` limits the replacement to those kinds of identifier (see
    :func:`redact_documents`); everything else is left as written.
    """
    if not text:
        return text
    text = _nfc(text)
    for _ in range(MAX_PASSES):
        found = [f for f in scan(text, default_owner) if kinds is None or f.kind in kinds]
        if not found:
            break
        out, pos = [], 0
        for f in found:
            out.append(text[pos : f.start])
            out.append(LABELS[f.kind])
            pos = f.end
        out.append(text[pos:])
        text = "".join(out)
    return text


# Identity-document numbers: a DNI, a carné de extranjería, a passport, a person's RUC (a
# company's RUC 20… is not found at all), a document or a number that is not a phone.
DOCUMENT_KINDS = frozenset({"dni", "ce", "passport", "ruc", "document", "number"})


def redact_documents(text: str) -> str:
    """Replace the identity-document numbers in ``text`` and keep the rest as written.

    For the report's ``contact`` field: a phone number, an e-mail, a handle or a link stays
    (the field exists to reach the seller), but "yo mismo: Rosa, DNI 41234567, 999 888 777"
    loses the DNI before storage, as the report text does. Idempotent like :func:`redact_text`.
    """
    return redact_text(text, kinds=DOCUMENT_KINDS)


def phone_value(value: str) -> str:
    """Digits of a phone as written (+51 kept; the trunk 0 of an area code dropped after it)."""
    digits = re.sub(r"\D", "", value) or spelled_digits(value)
    intl = re.match(r"\s*(?:\+|00)\s?51", value)
    if intl:
        return "+" + "51" + digits[4 if value.lstrip().startswith("00") else 2 :].lstrip("0")
    return digits


def lead_phones(text: str, default_owner: str = "unknown") -> list[str]:
    """Return the phone numbers in ``text`` that the words tie to the seller (a lead).

    The writer's own, a witness's and a number nobody is named for are not leads.
    """
    if not text:
        return []
    text = _nfc(text)
    return [phone_value(f.value) for f in scan(text, default_owner)
            if f.kind == "phone" and f.owner == "seller"]


def claimed_by_people(text: str) -> list[Finding]:
    """Identifiers in ``text`` that read as the writer's or a bystander's (for the ``contact``
    field, which is for the seller's phone, handle or link only)."""
    if not text:
        return []
    return [f for f in scan(_nfc(text)) if f.owner in ("self", "other")
            and f.kind in ("phone", "email", "name", "address")]
