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
  a phone, a payment app…).

An explicit opioid offer is never vetoed by a medical or news word: the rules run before the
model and do not look at those categories. Everything the rules do not settle (coded offers
without a drug name, menus, ambiguous street names) is decided by the calibrated model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from centinela.lib.text import fold
from centinela.online.lexicon import Lexicon, LexiconHits, _pattern

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


@dataclass
class Decision:
    """The verdict on one text in its context, and which part decided it."""

    is_offer: bool
    kind: str  # offer, request or none
    decided_by: str  # lexicon or model
    rule: str  # a short reason (which rule, or "model probability ≥ threshold")
    probability: float  # reported probability (the model's, or RULE_PROBABILITY when a rule decided)


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


def opioid_terms(hits: LexiconHits, text: str, rules: Rules) -> tuple[list[str], list[str]]:
    """(explicit, ambiguous) opioid terms of a text, negated mentions left out."""
    explicit, weak = [], []
    for cat in ("fentanyl", "other_opioid"):
        for term in hits.by_category.get(cat, ()):
            if _is_negated(text, term, rules):
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


_AVAILABLE = r"\s+(?:\d+\s?(?:mg|mcg|s)\s+)?(?:available|avail|disponibles?|on deck|in stock|en stock)\b"


def _stocked(text: str, terms: list[str]) -> str | None:
    """A drug name directly followed by "available" ("percs available", "fentanilo disponible")."""
    for term in terms:
        m = re.search(re.escape(term) + _AVAILABLE, text)
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
           threshold: float, title: str | None = None) -> Decision:
    """Decide one text (``text`` is the normalized, folded view the lexicon matched; ``title``
    the first line of a multi-line market listing)."""
    rules = rules_for(lex)
    opioid = hits.opioid
    hr = _harm_reduction_product(text, rules) if opioid else None
    if hr and context == "market":
        return Decision(False, "none", "lexicon", f"harm-reduction product ({hr.group(0)!r}), "
                        "not the drug", min(p_model, 1 - RULE_PROBABILITY))
    if hr:
        # "fentanyl test strips": the drug word names what the product detects, not what is sold
        masked = rules.hr.sub(" ", re.sub(r"(?:fentanyl|fentanilo|fent)\s*(?=test|testing)", " ",
                                          text))
        hits = lex.match_folded(masked)
        text, opioid = masked, hits.opioid
    explicit, weak = opioid_terms(hits, text, rules) if opioid else ([], [])
    named = explicit or weak
    model_offer = p_model >= threshold

    def by_model(note: str = "") -> Decision:
        rule = f"model probability {'≥' if model_offer else '<'} {threshold}" + note
        return Decision(model_offer, "offer" if model_offer else "none", "model", rule, p_model)

    def by_rule(offer: bool, kind: str, rule: str) -> Decision:
        p = max(p_model, RULE_PROBABILITY) if offer else min(p_model, 1 - RULE_PROBABILITY)
        return Decision(offer, kind, "lexicon", rule, p)

    if not named:
        if context == "market":
            offer = (p_model >= MARKET_MODEL_THRESHOLD and not hits.count("other_drug")
                     and not rules.not_drug.search(text))
            rule = (f"no opioid named; model probability {'≥' if offer else '<'} "
                    f"{MARKET_MODEL_THRESHOLD} (market threshold)")
            return Decision(offer, "offer" if offer else "none", "model", rule, p_model)
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
    request = rules.request.search(text)
    offer_cue = _first_person_cue(text, rules)
    # a payment app alone is news-compatible ("piden denunciar ventas con pago por Yape"); with a
    # phone number or a price it is how an offer is written
    phone, price = bool(_PHONE.search(text)), bool(_PRICE.search(text))
    payment = hits.count("payment") > 0 and (phone or price)
    contact_price = phone and price
    if request and not (offer_cue and offer_cue.group(0) in _SELLER_CUES):
        kind = "request" if context == "chat" else "none"
        return by_rule(False, kind, f"request to buy ({request.group(0)!r}) naming {named[0]}")
    if info or not_drug:
        return by_model(" (information or drug-related product, not the drug)")
    if rules.prescription.search(text) and not _NO_PRESCRIPTION.search(text):
        return _review_or_model(text, hits, rules, by_model, by_rule, model_offer)
    if explicit and context == "ad":
        return by_rule(True, "offer", f"classified ad names an opioid: {explicit[0]}")
    if explicit and (offer_cue or payment or contact_price):
        cue = offer_cue.group(0) if offer_cue else ("payment" if payment else "phone and price")
        return by_rule(True, "offer", f"explicit offer: {explicit[0]} + {cue!r}")
    stocked = _stocked(text, named)
    if stocked:
        return by_rule(True, "offer", f"explicit offer: {stocked!r}")
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
