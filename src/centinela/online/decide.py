"""Source-aware decision: the lexicon settles explicit cases, the model the hard ones.

The question depends on where a text comes from (its **context**):

* ``market`` — a darknet or web-shop listing. Every listing is an offer; the only question is
  whether what it offers is an opioid. A listing that names an opioid (generic, brand, street
  or synthetic name) is an opioid offer unless the product is information (a guide, an ebook)
  or a harm-reduction product (test strips, naloxone). Listings without a name go to the model.
* ``ad`` — a classified ad: an offer by nature unless it is a buy request ("compro…").
* ``chat`` — a chat or group message: an offer, or a request to buy (reported as
  ``kind="request"`` so analysts can see demand; ``is_offer`` stays False for it).
* ``social`` — a public post (default): news, advice and chatter are common, so an opioid name
  counts as an offer only together with explicit offer language ("vendo", "dm me", a price and
  a phone, a payment app…), or as a priced item of a drug menu. A scam warning ("es una estafa,
  te piden Yape") is not an offer even with a phone and a payment app, nor is a question or a
  worry about the drug ("¿hay fentanilo en Lima? me da miedo") without a seller's words,
  contact, price or payment. A patch in fentanyl strengths offered without the drug's name
  ("parchecitos … de 25 y 50, al privado") is a coded fentanyl-patch offer. A relative's worry
  or call for help ("mi hijo compra fenta, ya no sé qué hacer"), with or without "?", is not an
  offer nor a buy request; a warning that quotes the dealer's ad ("le escribieron: 'vendo fenta,
  yapea' — denuncien") is judged by its author's words, not by the quoted seller's.

An explicit opioid offer is never vetoed by a medical or news word: the rules run before the
model and do not look at those categories. Everything the rules do not settle (coded offers
without a drug name, menus, ambiguous street names) is decided by the calibrated model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from centinela.lib.text import fold
from centinela.online.lexicon import Lexicon, LexiconHits, _pattern
from centinela.online.quotes import NO_QUOTES, Quotes

CONTEXTS = ("market", "chat", "social", "ad")
DEFAULT_CONTEXT = "social"
# Probability reported when a rule decides. The rules' precision on the real labelled market
# sample (docs/online.md) is above this; the model's own probability is kept beside it.
RULE_PROBABILITY = 0.95
# On a market every listing is an offer, so the model's "offer" probability is inflated by the
# sale language every listing has; a listing that names no opioid needs this much (chosen on the
# development market sample, docs/online.md) before the model alone calls it an opioid offer.
MARKET_MODEL_THRESHOLD = 0.9
# Outside markets, a text that names no opioid is an offer only when the model is this sure
# (coded offers: "las ampollitas de sala, al privado"). Chosen on the real development sample
# read as social posts (listings of warfarin, sildenafil… look like offers to the model): F1 0.87
# at 0.5 → 0.97 at 0.8, for 0.939 → 0.930 on the synthetic held-out set (docs/online.md).
UNNAMED_THRESHOLD = 0.8
_UNIT = re.compile(r"\d\s*(?:mg|mcg|ug|g|gr|grams?|gramos?|ml|oz|kg|pills?|tabs?|tablets?|caps?|"
                   r"patch(?:es)?|parches?|ampollas?|amps?|x)\b|\bx\s?\d")
_PHONE = re.compile(r"(?<!\d)(?:\+?51[\s.-]?)?9\d{2}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)")
_PRICE = re.compile(r"(?:s/\.?|\$|usd)\s?\d|\d\s?(?:soles|lucas|dolares|usd|bucks)\b")
# a price per unit without a currency ("60 el sobre", "40 cada una", "30 la bolsita")
_UNIT_PRICE = re.compile(r"(?<![\d.,])\d{2,4}\s+(?:el|la|cada|por|x)\s+(?:sobrecitos?|sobres?|bolsitas?|"
                         r"bolsas?|gramos?|gr|g|puntos?|ampollitas?|ampollas?|parches?|pastillas?|pepas?|"
                         r"unidad|una|uno|ketes?|paquetes?|cajitas?|cajas?)(?!\w)")


@dataclass
class Decision:
    """The verdict on one text in its context, and which part decided it."""

    is_offer: bool
    kind: str  # offer, request or none
    decided_by: str  # lexicon or model
    rule: str  # a short reason (which rule, or "model probability ≥ threshold")
    probability: float  # reported probability (the model's, or RULE_PROBABILITY when a rule decided)
    # substances a rule infers where the text names none (a coded fentanyl-patch offer)
    substances: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    ambiguous: frozenset[str]
    offer: re.Pattern[str]
    request: re.Pattern[str]
    info: re.Pattern[str]
    hr: re.Pattern[str]
    not_drug: re.Pattern[str]
    review: re.Pattern[str]
    third_person: re.Pattern[str]
    prescription: re.Pattern[str]
    negated: re.Pattern[str]
    ambiguous_rx: tuple[re.Pattern[str], ...]
    warning: re.Pattern[str]
    hearsay: re.Pattern[str]
    offer_question: re.Pattern[str]
    patch_not_opioid: re.Pattern[str]
    worry: re.Pattern[str]
    quote_frame: re.Pattern[str]
    reported_speech: re.Pattern[str]
    alarm: re.Pattern[str]
    condemn: re.Pattern[str]
    not_a_name: re.Pattern[str]


def _alternation(terms: list[str]) -> re.Pattern[str]:
    words, others = [], []
    for term in terms:
        pat, bounded = _pattern(term)
        (words if bounded else others).append(pat)
    parts = []
    if words:
        parts.append(rf"(?<!\w)(?:{'|'.join(sorted(words, key=len, reverse=True))})(?!\w)")
    parts += [f"(?:{p})" for p in others]
    return re.compile("|".join(parts) or r"(?!)")


_RULES: dict[str, Rules] = {}


def rules_for(lex: Lexicon) -> Rules:
    """The compiled ``rules`` section of a lexicon (cached by its hash)."""
    got = _RULES.get(lex.sha256)
    if got is None:
        got = _RULES[lex.sha256] = _compile_rules(lex.data.get("rules", {}))
    return got


def _compile_rules(r: dict) -> Rules:
    amb = [t for t in r.get("ambiguous", []) if not t.startswith("re:")]
    neg = "|".join(re.escape(n) for n in r.get("negators", []))
    return Rules(
        ambiguous=frozenset(re.sub(r"[\s\-_.]+", " ", fold(t)).strip() for t in amb),
        offer=_alternation(r.get("offer_cues", [])),
        request=_alternation(r.get("request_cues", [])),
        info=_alternation(r.get("info_product", [])),
        hr=_alternation(r.get("hr_product", [])),
        not_drug=_alternation(r.get("not_the_drug", [])),
        review=_alternation(r.get("review_cues", [])),
        third_person=_alternation(r.get("third_person", [])),
        prescription=_alternation(r.get("prescription_required", [])),
        negated=re.compile(rf"(?<!\w)(?:{neg})(?!\w)" if neg else r"(?!)"),
        ambiguous_rx=tuple(re.compile(t[3:]) for t in r.get("ambiguous", []) if t.startswith("re:")),
        warning=_alternation(r.get("warning_cues", [])),
        hearsay=_alternation(r.get("hearsay_cues", [])),
        offer_question=_alternation(r.get("offer_questions", [])),
        patch_not_opioid=_alternation(r.get("patch_not_opioid", [])),
        worry=_alternation(r.get("worry_cues", [])),
        quote_frame=_alternation(r.get("quote_frames", [])),
        reported_speech=_alternation(r.get("reported_speech", [])),
        alarm=_alternation(r.get("alarm_cues", [])),
        condemn=_alternation(r.get("condemn_cues", [])),
        not_a_name=_alternation(r.get("not_a_name", [])),
    )


def _norm(term: str) -> str:
    return re.sub(r"[\s\-_.]+", " ", term).strip()


# "fentanyl-free", "fentanyl free pills", "tested negative" — but not "heroin, free sample"
_NEGATED_AFTER = re.compile(r"\s*-\s*free\b|\s+free\b(?!\s+(?:sample|samples|shipping|ship|delivery|"
                            r"gift|bonus|tester|testers|postage|express|ww|worldwide))"
                            r"|\s+(?:negative|negativo)\b")


def _is_negated(text: str, term: str, rules: Rules) -> bool:
    """Whether every mention of ``term`` is negated ("sin fentanilo", "fentanyl-free")."""
    found = False
    for m in re.finditer(re.escape(term), text):
        found = True
        before = text[max(0, m.start() - 25):m.start()].split()[-2:]
        after = text[m.end():m.end() + 12]
        if not (any(rules.negated.fullmatch(w) for w in before)
                or _NEGATED_AFTER.match(after)):
            return False
    return found


def _inside_other_name(text: str, term: str, rules: Rules) -> bool:
    """Whether every mention of ``term`` is part of a name that is not the drug ("Fenty
    Beauty", "TVS Apache", "Fetty Wap"; the ``not_a_name`` rule list)."""
    spans = [m.span() for m in rules.not_a_name.finditer(text)]
    if not spans:
        return False
    found = False
    for m in re.finditer(rf"(?<!\w){re.escape(term)}(?!\w)", text):
        found = True
        if not any(a <= m.start() and m.end() <= b for a, b in spans):
            return False
    return found


def opioid_terms(hits: LexiconHits, text: str, rules: Rules) -> tuple[list[str], list[str]]:
    """(explicit, ambiguous) opioid terms of a text, negated mentions and mentions inside
    another name ("Fenty Beauty") left out."""
    explicit, weak = [], []
    for cat in ("fentanyl", "other_opioid"):
        for term in hits.by_category.get(cat, ()):
            if (_is_negated(text, term, rules) or _not_a_patch_dose(text, term, rules)
                    or _inside_other_name(text, term, rules)):
                continue
            n = _norm(term)
            if term in hits.fuzzy or n in rules.ambiguous or any(rx.fullmatch(term) for rx in rules.ambiguous_rx):
                weak.append(term)
            else:
                explicit.append(term)
    return explicit, weak


# offer cues only a seller writes: they win over a request cue in the same text
_SELLER_CUES = frozenset({"vendo", "vendemos", "remato", "ofrezco", "ofrecemos", "selling",
                          "for sale", "in stock", "en stock", "hmu", "hit me up", "dm me",
                          "text me", "taking orders", "tengo disponible", "tenemos disponible",
                          "restock", "just landed", "wts"})
_NO_PRESCRIPTION = re.compile(r"sin receta|sin orden|without (?:a )?prescription|no rx|no script|"
                              r"no prescription|sin prescripcion")
_BUPRENORPHINE = re.compile(r"bupren|suboxon|subutex|zubsolv|\bsubs?\b")


def _harm_reduction_product(text: str, rules: Rules) -> re.Match[str] | None:
    """A harm-reduction product the text sells (test strips, naloxone), not negated ("no
    naloxone") and not the naloxone inside buprenorphine/naloxone tablets."""
    for m in rules.hr.finditer(text):
        before = text[max(0, m.start() - 20):m.start()].split()[-2:]
        if any(rules.negated.fullmatch(w) for w in before):
            continue
        if m.group(0).startswith(("nalox", "narcan")) and _BUPRENORPHINE.search(text):
            continue
        return m
    return None


# what a harm-reduction product detects, right after its name ("tiras reactivas para detectar
# fentanilo", "tiras de prueba de fentanilo y de xilacina", "test strips for fentanyl")
_HR_OBJECT = re.compile(r"(?:\s+(?:de|del|para|p/|for|que|detecta|detectan|detectar|detectoras?|"
                        r"presencia|la|el|los|y|and|of))+\s+(?:fentanilos?|fentanyl|fentanil|fentas?|"
                        r"fent|carfentanilo?|nitazenos?|nitazenes?|opioides?|opioids?|opiaceos?)(?!\w)")


def _mask_hr_product(text: str, rules: Rules) -> str:
    """``text`` without its harm-reduction products and the drug names they detect: "fentanyl
    test strips" and "tiras reactivas para detectar fentanilo" sell a test, not the drug."""
    text = re.sub(r"(?:fentanyl|fentanilo|fent)\s*(?=test|testing)", " ", text)
    out, last = [], 0
    for m in rules.hr.finditer(text):
        if m.start() < last:
            continue
        obj = _HR_OBJECT.match(text, m.end())
        out.append(text[last:m.start()] + " ")
        last = obj.end() if obj else m.end()
    return "".join(out) + text[last:]


_AVAILABLE = r"\s+(?:\d+\s?(?:mg|mcg|s)\s+)?(?:available|avail|disponibles?|on deck|in stock|en stock)\b"


def _stocked(text: str, terms: list[str]) -> str | None:
    """A drug name directly followed by "available" ("percs available", "fentanilo disponible")."""
    for term in terms:
        m = re.search(re.escape(term) + _AVAILABLE, text)
        if m:
            return m.group(0)
    return None


# Offer cues only the seller of the thing writes (contact me, my price): a question, a worry or a
# scam warning that has one of them, a phone, a price, a payment app or a handle is an offer
# to be decided by the other rules and the model, not a mere question. Cues such as
# "disponible", "sin receta" or "delivery a todo" are also used when asking or warning about a
# drug ("¿es verdad que hay fenta disponible?"), so they do not count here.
_DIRECT_CUES = _SELLER_CUES | frozenset({
    "remate", "escribeme", "escribanme", "escriban", "al privado", "al interno", "al dm",
    "al inbox", "al wsp", "manden msj", "manden mensaje", "mandame msj", "mandame mensaje",
    "manda msj", "al priv", "msj al priv", "info al priv", "info al interno", "info por interno",
    "info x interno", "interesados", "c/u", "por unidad", "yapeame", "yapea", "plinea",
    "pedidos al", "precios al interno", "precios al privado", "pregunta por precio",
    "pregunta x precio", "consulta precio", "precio conversable", "precio por mayor",
    "precio x mayor", "hago delivery", "hacemos delivery", "hago envios", "hacemos envios",
    "enviamos", "dm for", "hit my line", "hit my phone", "got em", "got them", "tap in",
    "pull up", "slide thru", "link up", "in hand", "on deck", "price:", "precio:"})
_HANDLE = re.compile(r"(?<![\w.])@[a-z0-9_.]{3,}|t\.me/|wa\.me/")


def _seller_cue(text: str, rules: Rules) -> str | None:
    """A seller's own offer cue (``_DIRECT_CUES``) not reported about someone else, or None."""
    for m in rules.offer.finditer(text):
        before = text[max(0, m.start() - 20):m.start()].split()[-2:]
        if m.group(0) in _DIRECT_CUES and not any(rules.third_person.fullmatch(w) for w in before):
            return m.group(0)
    return None


def _direct_offer_evidence(text: str, hits: LexiconHits, rules: Rules,
                           price: bool = True) -> str | None:
    """What in a text shows the author offering (a seller's own cue, a phone, a price — unless
    ``price`` is False —, a payment app, a handle), or None."""
    cue = _seller_cue(text, rules)
    if cue:
        return cue
    if _PHONE.search(text):
        return "phone"
    if price and (_PRICE.search(text) or _UNIT_PRICE.search(text)):
        return "price"
    if hits.count("payment"):
        return hits.by_category["payment"][0]
    if _HANDLE.search(text):
        return "handle"
    return None


def _warning(text: str, rules: Rules) -> str | None:
    """A warning about a seller or a scam ("es una estafa", "te bloquean", "no le compren"),
    not negated within three words ("no es estafa", "cero estafas", "not a scam")."""
    for m in rules.warning.finditer(text):
        before = text[max(0, m.start() - 30):m.start()].split()[-3:]
        if not any(rules.negated.fullmatch(w) for w in before):
            return m.group(0)
    return None


def _question_or_worry(text: str, named: list[str], questions: str, rules: Rules) -> str | None:
    """A post asking or worrying about the drug's presence: hearsay or fear words ("es verdad
    que", "vi un reportaje", "me da miedo"), or a question naming the drug ("¿hay fentanilo en
    Lima?"); None when a seller's question ("¿quién quiere?", "¿te interesa?") is in it."""
    if rules.offer_question.search(text):
        return None
    h = rules.hearsay.search(text)
    if h:
        return f"hearsay or worry ({h.group(0)!r})"
    for term in named:
        if questions and re.search(rf"(?<!\w){re.escape(term)}(?!\w)", questions):
            return f"question about {term}"
    return None


# a request cue whose object is help, not a drug ("necesito ayuda", "busco orientación")
_HELP_AFTER = re.compile(r"\s+(?:(?:de|un poco de|urgente|su|tu|una|mas)\s+)?(?:ayuda|orientacion|"
                         r"consejos?|apoyo|informacion|saber|hablar|un psicologo|un centro|una clinica|"
                         r"un doctor|un medico|tratamiento|rehabilitacion|internarlo|internarla|help|"
                         r"advice)(?!\w)")


def _request(text: str, rules: Rules) -> re.Match[str] | None:
    """The first request cue that asks for something other than help ("necesito fenta", not
    "necesito ayuda, mi hijo consume fenta"), or None."""
    for m in rules.request.finditer(text):
        if not _HELP_AFTER.match(text, m.end()):
            return m
    return None


def _asks_for(text: str, request: re.Match[str], named: list[str]) -> bool:
    """Whether an opioid named in the text is the object of the request (within a few words)."""
    after = text[request.end():request.end() + 40]
    return any(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", after) for t in named)


def _quoted_ad(quotes: Quotes, lex: Lexicon, rules: Rules) -> str | None:
    """A seller's ad quoted by someone who reports or warns about it, or None.

    The quote names an opioid with offer language; the words around it report or warn ("le
    escribieron", "circula", "cuidado", "no le compren", "detienen…") and offer nothing
    themselves: no seller's cue, and no phone, price, payment app or handle unless they warn
    about someone ("no le compren", "ese número", "denuncien").
    """
    quoted, frame, marked = quotes
    qh = lex.match_folded(quoted)
    if not qh.opioid or not any(opioid_terms(qh, quoted, rules)):
        return None
    if not (rules.offer.search(quoted) or _HAVE.search(quoted)
            or _direct_offer_evidence(quoted, qh, rules)):
        return None
    fh = lex.match_folded(frame)
    # against someone: a scam warning or a condemnation ("ese número", "denuncien")
    condemn = rules.condemn.search(frame)
    against = _warning(frame, rules) or (condemn.group(0) if condemn else None)
    # a bare reporting verb ("recibió", "dice") reports speech only with quotation marks
    cue = (rules.quote_frame.search(frame) or rules.alarm.search(frame)
           or rules.hearsay.search(frame) or (rules.reported_speech.search(frame) if marked else None))
    said = against or (cue.group(0) if cue else None) or next(iter(fh.by_category.get("news", [])), None)
    if said is None or _seller_cue(frame, rules):
        return None
    if not against and _direct_offer_evidence(frame, fh, rules):
        return None
    return f"quotes a seller's ad to report or warn about it ({said!r}), not an offer"


# Fentanyl patches come in 12 (12.5), 25, 37.5, 50, 62.5, 75 and 100 µg/h; buprenorphine patches
# in 5–20, 35, 52.5 and 70; nicotine patches in 7, 14 and 21 mg. A patch offered in these
# strengths without a drug name ("los parchecitos para el dolor fuerte, de 25 y 50") is, in
# practice, a fentanyl patch.
_PATCH = r"(?<!\w)(?:parches?|parchecitos?|parchitos?|patch(?:es)?)(?!\w)"
_DOSE = r"(?:12(?:[.,]5)?|25|37[.,]5|50|62[.,]5|75|100)"
_PATCH_WORD = re.compile(_PATCH)
# after a number: a price, a size or a count, not a patch strength ("parches de 25 soles")
_NOT_A_DOSE = (r"(?!\s*(?:soles?|lucas|luquitas|dolares|usd|bucks|mg|ml|g|gr|grs|gramos?|kg|kilos?|"
               r"cm|mm|%|x|unidades|parch|patch|cajas?|sobres?|dias|horas|anos|minutos|pastillas|"
               r"tabletas|ampollas|metros|personas)(?!\w))")


def _not_a_patch_dose(text: str, term: str, rules: Rules) -> bool:
    """Whether a lexicon term naming a patch by its strength ("parches de 25") is here not a
    fentanyl patch: a named non-opioid patch ("parches bordados de 50"), or every mention is a
    price, size or count ("parches de 25 soles", "de 50 x 50 cm")."""
    if not _PATCH_WORD.match(term):
        return False
    if rules.patch_not_opioid.search(text):
        return True
    return not any(re.match(_NOT_A_DOSE, text[m.end():])
                   for m in re.finditer(rf"(?<!\w){re.escape(term)}(?![\w.,]\d)", text))


_PATCH_DOSE = re.compile(
    rf"(?<![\d.,/$]){_DOSE}\s?(?:mcg|ug|µg|microgramos?)(?!\w)"
    rf"|(?:(?<!\w)(?:de|of)|{_PATCH})\s+{_DOSE}"
    rf"(?:\s*(?:,|y|e|o|/|and|or|&)\s*(?:de\s+)?{_DOSE})*(?![\d.,]*\d)" + _NOT_A_DOSE)
_PRICE_WORD = re.compile(r"(?<!\w)(?:precio|costo|valor|cuesta|cuestan|vale|valen|a)\s*$")
CODED_PROBABILITY = 0.8  # reported for an offer a rule recognises without the drug's name


def _coded_patch(text: str, rules: Rules) -> str | None:
    """The strength of a patch offered without a drug name in fentanyl-patch strengths
    ("parchecitos … de 25 y 50", "patches 75mcg"), or None (non-opioid patches excluded)."""
    patch = _PATCH_WORD.search(text)
    if patch is None or rules.patch_not_opioid.search(text):
        return None
    for m in _PATCH_DOSE.finditer(text):
        if abs(m.start() - patch.start()) > 120:
            continue
        if m.group(0)[:1].isalpha() and _PRICE_WORD.search(text[max(0, m.start() - 12):m.start()]):
            continue  # "a precio de 25": a price
        return m.group(0)
    return None


# a drug item followed by its price in a list ("fenta 120", "cripy: S/ 20", "tusi a 80"), not by
# a quantity ("fentanilo 2 kg", "marihuana 20 paquetes")
_PRICE_AFTER = (r"\s*(?:[:=\-]\s*|a\s+)?(?:s/\.?\s?|\$\s?|usd\s?)?\d{1,5}(?:[.,]\d{1,2})?(?![\d.,]*\d)"
                r"(?!\s*(?:kg|kilos?|g|gr|grs|gramos?|mg|mcg|ug|ml|%|x|toneladas?|paquetes?|ketes?|"
                r"ladrillos?|bolsas?|envoltorios?|unidades|ampollas?|pastillas?|tabletas?|parches?|"
                r"dosis|detenidos|personas|anos|dias|pills?|tabs?|grams?|oz|pack|ct|count)(?!\w))")
_CURRENCY = re.compile(r"s/|\$|usd|soles|lucas|dolares|bucks")
_PRICE_AFTER_RX = re.compile(_PRICE_AFTER + r"(?:\s?(?:soles|lucas|dolares|bucks))?")


def _priced(text: str, terms: list[str], currency: bool = False) -> list[str]:
    """The drug terms of ``terms`` listed with a price right after them (with ``currency``, a
    price written with its currency: "tramadol 50" may be a strength, "tramadol S/ 50" is not)."""
    out = []
    for t in terms:
        i = text.find(t)
        while i >= 0:
            if i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"):
                m = _PRICE_AFTER_RX.match(text, i + len(t))
                if m and (not currency or _CURRENCY.search(m.group(0))):
                    out.append(t)
                    break
            i = text.find(t, i + 1)
    return out


def _drug_menu(text: str, named: list[str], hits: LexiconHits, offer_cue) -> str | None:
    """An opioid item of a drug price list, or None.

    A menu lists several drugs, each followed by its price ("🍁 cripy 20 / 💊 fenta 120 / ❄️
    perico 60 - delivery"). An opioid name followed by a bare number may be a strength
    ("tramadol 50, morfina 10"), so the list must also price another drug, or write its prices
    with a currency; and it must carry some sale word, offer cue or code emoji, and no news word.
    """
    if hits.count("news") or not (offer_cue or hits.count("sale") or hits.count("code_emoji")):
        return None
    opioids = _priced(text, named)
    if not opioids:
        return None
    others = _priced(text, hits.by_category.get("other_drug", []))
    if others or len(_priced(text, named, currency=True)) >= 2:
        return opioids[0] if len(opioids) + len(others) >= 2 else None
    return None


# Fentanyl's own short forms among the ambiguous names ("fenta", "fentas", "fenty", "fetty").
_FENT_SLANG = re.compile(r"fent+[aiy]?s?")
# A seller's having of the thing ("tengo", "hay", "vendo"): with a slang name and a contact cue.
_HAVE = re.compile(r"\b(tengo|tenemos|hay|vendo|vendemos|ofrezco|ofrecemos|traigo|traemos|"
                   r"llego|llegaron|disponibles?|stock|got|have)\b")


# a seller's having words before a slang name: "tengo (la) fenta", "llegó la fenta", "hay fentas"
# ("hay" and "llegó" only right before it, with at most an article: "hay fenta en el colegio"
# and "ya llegó el fentanilo a Trujillo" are also said in alarm)
_HELD = (r"\b(?:tengo|tenemos|vendo|vendemos|ofrezco|ofrecemos|traigo|traemos|got|have)(?:\s+\w+){0,2}?"
         r"|\b(?:hay|llego|llegaron|llegaron las|ya llego)(?:\s+(?:la|las|el|los|mi|mis))?")


def _held(text: str, slang: list[str]) -> str | None:
    """Fentanyl slang right after a seller's having words ("tengo la fenta", "hay fentas",
    "llegó la fenta") or right before "disponible", or None."""
    for term in slang:
        t = re.escape(term)
        m = re.search(rf"(?:{_HELD})\s+'?{t}(?!\w)|(?<!\w){t}{_AVAILABLE}", text)
        if m:
            return m.group(0)
    return None


def _first_person_cue(text: str, rules: Rules) -> re.Match[str] | None:
    """The first offer cue not reported about someone else ("someone selling", "banda que vende")."""
    for m in rules.offer.finditer(text):
        before = text[max(0, m.start() - 20):m.start()].split()[-2:]
        if not any(rules.third_person.fullmatch(w) for w in before):
            return m
    return None


def decide(text: str, hits: LexiconHits, p_model: float, context: str, lex: Lexicon,
           threshold: float, title: str | None = None, questions: str = "",
           quotes: Quotes = NO_QUOTES) -> Decision:
    """Decide one text (``text`` is the normalized, folded view the lexicon matched; ``title``
    the first line of a multi-line market listing; ``questions`` the same view of the text's
    questions — each clause ending in "?"; ``quotes`` its quoted speech and the rest, see
    ``online.quotes``)."""
    rules = rules_for(lex)
    opioid = hits.opioid
    hr = _harm_reduction_product(text, rules) if opioid else None
    if hr and context == "market":
        return Decision(False, "none", "lexicon", f"harm-reduction product ({hr.group(0)!r}), "
                        "not the drug", min(p_model, 1 - RULE_PROBABILITY))
    if hr:
        # "fentanyl test strips": the drug word names what the product detects, not what is sold
        masked = _mask_hr_product(text, rules)
        hits = lex.match_folded(masked)
        text, opioid = masked, hits.opioid
    explicit, weak = opioid_terms(hits, text, rules) if opioid else ([], [])
    named = explicit or weak
    model_offer = p_model >= threshold
    if opioid and not named:
        other = rules.not_a_name.search(text)
        if other and all(_inside_other_name(text, t, rules) for c in ("fentanyl", "other_opioid")
                         for t in hits.by_category.get(c, ())):
            # the model counted "fenty" in "Fenty Beauty" as a drug name: its probability is void
            return Decision(False, "none", "lexicon", f"the opioid name is part of another name "
                            f"({other.group(0)!r})", min(p_model, 1 - RULE_PROBABILITY))

    def by_model(note: str = "") -> Decision:
        rule = f"model probability {'≥' if model_offer else '<'} {threshold}" + note
        return Decision(model_offer, "offer" if model_offer else "none", "model", rule, p_model)

    def by_rule(offer: bool, kind: str, rule: str) -> Decision:
        p = max(p_model, RULE_PROBABILITY) if offer else min(p_model, 1 - RULE_PROBABILITY)
        return Decision(offer, kind, "lexicon", rule, p)

    if not named:
        patch = _coded_patch(text, rules)
        if patch and context in ("market", "ad"):
            return Decision(True, "offer", "lexicon", f"coded fentanyl-patch offer: patch {patch!r}",
                            max(p_model, CODED_PROBABILITY), ("fentanyl",))
        if context == "market":
            offer = (p_model >= MARKET_MODEL_THRESHOLD and not hits.count("other_drug")
                     and not rules.not_drug.search(text))
            rule = (f"no opioid named; model probability {'≥' if offer else '<'} "
                    f"{MARKET_MODEL_THRESHOLD} (market threshold)")
            return Decision(offer, "offer" if offer else "none", "model", rule, p_model)
        warning = _warning(text, rules) if (patch or model_offer) else None
        if patch and not (warning or _request(text, rules) or hits.count("news")
                          or rules.hearsay.search(text)):
            evidence = _direct_offer_evidence(text, hits, rules)
            if evidence:
                return Decision(True, "offer", "lexicon", f"coded fentanyl-patch offer: patch "
                                f"{patch!r} + {evidence!r}", max(p_model, CODED_PROBABILITY),
                                ("fentanyl",))
        if model_offer:
            worry = warning or _question_or_worry(text, [], questions, rules)
            if worry and not _direct_offer_evidence(text, hits, rules):
                return by_rule(False, "none", f"warning, question or worry ({worry}), no offer "
                               "language, contact, price or payment")
        other_patch = _PATCH_WORD.search(text) and rules.patch_not_opioid.search(text)
        if model_offer and other_patch:
            # "parches de lidocaína … interesados al privado": the patch sold is named, and it is
            # not an opioid
            return by_rule(False, "none", f"offers a non-opioid patch ({other_patch.group(0)!r}), "
                           "no opioid named")
        if model_offer and hits.count("other_drug"):
            # the model calls it an offer, but the only drugs named are other drugs
            return by_rule(False, "none", f"offers another drug "
                           f"({hits.by_category['other_drug'][0]}), no opioid named")
        if model_offer and p_model < UNNAMED_THRESHOLD:
            return Decision(False, "none", "model", f"no opioid named; model probability "
                            f"< {UNNAMED_THRESHOLD}", p_model)
        return _review_or_model(text, hits, rules, by_model, by_rule, model_offer)
    info = bool(rules.info.search(text)) and not _UNIT.search(text)
    not_drug = rules.not_drug.search(text)
    if context == "market":
        if info:
            return by_rule(False, "none", "information product (guide, ebook…), not a substance")
        if not_drug:
            return by_rule(False, "none", f"sells something about the drug ({not_drug.group(0)!r})")
        if explicit and hits.count("other_drug") and title is not None:
            head = lex.match(title)
            if head.count("other_drug") and not head.opioid:
                # "MDMA 84% … cleaner than heroin": the opioid is only mentioned in the
                # description of a listing whose title sells another drug (a combination deal
                # names both in its title)
                return by_rule(False, "none", f"title sells another drug "
                               f"({head.by_category['other_drug'][0]}); opioid only in the description")
        if explicit:
            return by_rule(True, "offer", f"market listing names an opioid: {explicit[0]}")
        # a street name is also a word ("Apache Spark", "brown sugar"): it counts when sold by
        # quantity (2g, 10 pills, x5) or when the model does not rule it out
        if not hits.count("other_drug") and (_UNIT.search(text) or p_model >= 0.1):
            return by_rule(True, "offer", f"market listing names an opioid street name: {weak[0]}")
        return by_model(f" (only an ambiguous name: {weak[0]!r})")
    if quotes.quoted:
        quoted_ad = _quoted_ad(quotes, lex, rules)
        if quoted_ad:
            return by_rule(False, "none", quoted_ad)
    request = _request(text, rules)
    distress = rules.worry.search(text)
    if distress and not (request and _asks_for(text, request, named)) \
            and not _direct_offer_evidence(text, hits, rules, price=False):
        # "mi hijo compra fenta a 50 soles, ya no sé qué hacer": a relative's worry or a call
        # for help, with or without "?"; the price is what someone else pays
        return by_rule(False, "none", f"worry or call for help ({distress.group(0)!r}), no "
                       "seller's words, contact or payment")
    offer_cue = _first_person_cue(text, rules)
    # a payment app alone is news-compatible ("piden denunciar ventas con pago por Yape"); with a
    # phone number or a price it is how an offer is written
    phone = bool(_PHONE.search(text))
    price = bool(_PRICE.search(text) or _UNIT_PRICE.search(text))
    payment = hits.count("payment") > 0 and (phone or price)
    contact_price = phone and price
    if request and not (offer_cue and offer_cue.group(0) in _SELLER_CUES):
        kind = "request" if context == "chat" else "none"
        return by_rule(False, kind, f"request to buy ({request.group(0)!r}) naming {named[0]}")
    if info or not_drug:
        return by_model(" (information or drug-related product, not the drug)")
    if rules.prescription.search(text) and not _NO_PRESCRIPTION.search(text):
        return _review_or_model(text, hits, rules, by_model, by_rule, model_offer)
    warning = _warning(text, rules)
    if warning:
        # every real scam warning has a phone and a payment app ("te piden Yape"): without a
        # seller's own words it is a warning; with them ("vendo…, los demás son estafadores") the
        # model decides
        if not _seller_cue(text, rules):
            return by_rule(False, "none", f"warning about a seller or a scam ({warning!r}), "
                           "not an offer")
        return by_model(f" (a warning ({warning!r}) beside a seller's words)")
    worry = _question_or_worry(text, named, questions, rules)
    if worry and not _direct_offer_evidence(text, hits, rules):
        return by_rule(False, "none", f"{worry}, no offer language, contact, price or payment")
    jobs = hits.by_category.get("job", [])
    if len(jobs) >= 2 and not (offer_cue and offer_cue.group(0) in _SELLER_CUES):
        # "se necesita técnico … (fentanilo, morfina), sueldo S/ 1500, CV al wsp"
        return by_rule(False, "none", f"job ad ({', '.join(jobs[:2])}), not an offer")
    if explicit and context == "ad":
        return by_rule(True, "offer", f"classified ad names an opioid: {explicit[0]}")
    if explicit and (offer_cue or payment or contact_price):
        cue = offer_cue.group(0) if offer_cue else ("payment" if payment else "phone and price")
        return by_rule(True, "offer", f"explicit offer: {explicit[0]} + {cue!r}")
    slang = [w for w in weak if _FENT_SLANG.fullmatch(_norm(w))]
    if not explicit and slang and offer_cue and offer_cue.group(0) in _DIRECT_CUES \
            and _HAVE.search(text) and not hits.count("news"):
        # "fenta", "fetty": short for fentanyl, ambiguous alone (a name, a brand), an offer
        # with the seller's own words ("tengo … fenta …, manden msj")
        return by_rule(True, "offer", f"fentanyl slang {slang[0]!r} + seller's own cue "
                       f"{offer_cue.group(0)!r}")
    held = _held(text, slang) if not explicit and not hits.count("news") else None
    if held:
        # "tengo la fenta …, 60 el sobre, yapean": the seller has it, and says its price or
        # how to pay or reach them
        evidence = _direct_offer_evidence(text, hits, rules)
        if evidence:
            return by_rule(True, "offer", f"fentanyl slang held by the author ({held!r}) + "
                           f"{evidence!r}")
    stocked = _stocked(text, named)
    if stocked:
        return by_rule(True, "offer", f"explicit offer: {stocked!r}")
    menu = _drug_menu(text, named, hits, offer_cue)
    if menu:
        # street names count here, as items with a price among other drugs
        return by_rule(True, "offer", f"drug menu with prices: {menu!r}")
    return _review_or_model(text, hits, rules, by_model, by_rule, model_offer)


def _review_or_model(text, hits, rules, by_model, by_rule, model_offer) -> Decision:
    """A buyer's review of a past purchase is not an offer; anything else goes to the model."""
    if model_offer and not _first_person_cue(text, rules) and not _PHONE.search(text) \
            and not hits.count("payment"):
        review = rules.review.search(text)
        if review:
            return by_rule(False, "none", f"buyer review ({review.group(0)!r}), not an offer")
        news = hits.by_category.get("news")
        if news:
            return by_rule(False, "none", f"news report ({news[0]!r}) without offer language, "
                           "contact or payment")
    return by_model()
