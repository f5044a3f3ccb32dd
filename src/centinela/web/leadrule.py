"""The online classifier's reason for a post, in the reader's language.

``online.decide`` writes one short English sentence per decision (``Decision.rule``), with the
words it matched in the post quoted: "explicit offer: fentanilo + 'vendo'". Each shape it writes
is a pattern here and a template in ``i18n/online.json`` (``online.rule.*``); the quoted words
are the post's own and stay as they are, thresholds follow the reader's number style. A shape
not listed yet gives None and the page shows the sentence as written, marked as English.
"""

from __future__ import annotations

import re

from centinela.web.fmt import format_number
from centinela.web.i18n import translate

_OP_T = r"(?P<op>[≥<]) (?P<t>\d+(?:\.\d+)?)"
_MODEL = r"model probability " + _OP_T
_NO_OFFER_SIGNS = r", no offer language, contact, price or payment"

# (pattern, key of its template), tried in order; the first that matches the whole sentence wins.
RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.S), "online.rule." + key) for pattern, key in (
        (_MODEL, "model"),
        (_MODEL + r" \(only an ambiguous name: (?P<q>.+)\)", "model_ambiguous"),
        (_MODEL + r" \(information or drug-related product, not the drug\)", "model_info"),
        (_MODEL + r" \(a warning \((?P<q>.+)\) beside a seller's words\)", "model_warning"),
        (r"no opioid named; " + _MODEL + r" \(market threshold\)", "unnamed_market"),
        (r"no opioid named; " + _MODEL, "unnamed"),
        (r"harm-reduction product \((?P<q>.+)\), not the drug", "harm_reduction"),
        (r"coded fentanyl-patch offer: patch (?P<q>.+?) \+ (?P<q2>.+)", "coded_patch_evidence"),
        (r"coded fentanyl-patch offer: patch (?P<q>.+)", "coded_patch"),
        (r"warning, question or worry \((?P<worry>.+)\)" + _NO_OFFER_SIGNS, "worry"),
        (r"(?P<worry>.+)" + _NO_OFFER_SIGNS, "no_offer_signs"),
        (r"hearsay or worry \((?P<q>.+)\)", "hearsay"),
        (r"question about (?P<x>.+)", "question"),
        (r"offers a non-opioid patch \((?P<q>.+)\), no opioid named", "non_opioid_patch"),
        (r"offers another drug \((?P<x>.+)\), no opioid named", "other_drug"),
        (r"information product \(guide, ebook…\), not a substance", "info_product"),
        (r"sells something about the drug \((?P<q>.+)\)", "about_drug"),
        (r"title sells another drug \((?P<x>.+)\); opioid only in the description",
         "title_other_drug"),
        (r"market listing names an opioid street name: (?P<x>.+)", "market_street_name"),
        (r"market listing names an opioid: (?P<x>.+)", "market_named"),
        (r"request to buy \((?P<q>.+)\) naming (?P<x>.+)", "request"),
        (r"warning about a seller or a scam \((?P<q>.+)\), not an offer", "scam_warning"),
        (r"classified ad names an opioid: (?P<x>.+)", "ad_named"),
        (r"explicit offer: (?P<x>.+?) \+ (?P<cue>.+)", "explicit_cue"),
        (r"explicit offer: (?P<x>.+)", "explicit"),
        (r"fentanyl slang (?P<q>.+) \+ seller's own cue (?P<q2>.+)", "slang_cue"),
        (r"fentanyl slang held by the author \((?P<q>.+)\) \+ (?P<cue>.+)", "slang_held"),
        (r"quotes a seller's ad to report or warn about it \((?P<q>.+)\), not an offer",
         "quoted_ad"),
        (r"the opioid name is part of another name \((?P<q>.+)\)", "part_of_name"),
        (r"worry or call for help \((?P<q>.+)\), no seller's words, contact or payment",
         "call_for_help"),
        (r"job ad \((?P<x>.+)\), not an offer", "job_ad"),
        (r"drug menu with prices: (?P<q>.+)", "menu"),
        (r"buyer review \((?P<q>.+)\), not an offer", "review"),
        (r"news report \((?P<q>.+)\) without offer language, contact or payment", "news"),
    ))
# What the rules write in English where a post's own word would be quoted: the evidence of an
# offer (a phone number, a price, a payment app, an account handle).
_CUES = {f"'{cue}'": f"online.rule.cue.{cue.replace(' ', '_')}"
         for cue in ("payment", "phone and price", "phone", "price", "handle")}


def rule_text(rule: str, lang: str) -> str | None:
    """Return ``rule`` in ``lang`` (the quoted words of the post as written), or None when the
    sentence has a shape not listed here."""
    for pattern, key in RULES:
        m = pattern.fullmatch(rule)
        if m is None:
            continue
        params = m.groupdict()
        if params.get("t"):
            params["t"] = format_number(float(params["t"]), lang)
        if params.get("worry"):  # a nested reason: "hearsay or worry ('…')", "question about …"
            params["worry"] = rule_text(params["worry"], lang) or params["worry"]
        for name, value in params.items():
            if value in _CUES:
                params[name] = f"'{translate(_CUES[value], lang)}'"
        return translate(key, lang, **params)
    return None
