"""Source-aware decisions, shared lexicon, robustness to formatting, and real-listing quality."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from centinela.cli import app
from centinela.online import model_store
from centinela.online.classifier import evaluate
from centinela.online.classify import classify
from centinela.online.connectors import ConnectorError, get_connector
from centinela.online.lexicon import load_lexicon, registry_terms
from centinela.reference.places import find_places

FIX = Path(__file__).parent / "fixtures" / "online"
REAL = FIX / "real"
NOW = dt.datetime(2025, 12, 1)
runner = CliRunner()


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


# the market titles the issue reports as missed, and the names it lists
MARKET_OFFERS = [
    "Fentanyl HCl 98% pure powder 1 gram", "China White 1g", "#4 heroin 0.5g", "black tar 1g",
    "brown sugar 2g", "Subutex 8mg x10", "Suboxone 8mg strips x5", "MS Contin 60mg x 10",
    "Opana ER 40mg", "Roxicodone 30mg x 20", "Norco 10/325 x 30", "Nucynta 100mg x 10",
    "Actavis promethazine w/ codeine 16oz", "MT-45 5g", "AH-7921 1g", "isotonitazene 500mg",
    "metonitazene powder 1g", "N-pyrrolidino etonitazene 250mg",
]
MARKET_NOT = [
    "Fentanyl test strips x 10", "Heroin extraction guide (PDF)", "Narcan nasal spray 4mg x2",
    "Hydroxyzine 25mg opiate potentiator x30", "MDMA 84% crystals 5g", "Xanax 2mg bars x100",
    "Subutex 8mg x10 - no naloxone",  # negated naloxone: still buprenorphine (positive below)
]


def test_market_context_decides_what_is_offered():
    got = classify(MARKET_OFFERS + MARKET_NOT, context="market")
    assert all(c.is_offer for c in got[:len(MARKET_OFFERS)]), \
        [(t, c.rule) for t, c in zip(MARKET_OFFERS, got, strict=False) if not c.is_offer]
    nots = got[len(MARKET_OFFERS):]
    assert [c.is_offer for c in nots] == [False] * 6 + [True]
    first = got[0]
    assert first.context == "market" and first.decided_by == "lexicon"
    assert "fentanyl" in first.rule and first.substances == ["fentanyl"]
    # the model alone, on a market listing with no sale word, says no: the rule decided
    assert first.model_probability < 0.5 <= first.probability


def test_explicit_offer_is_not_vetoed_by_medical_or_news_words():
    texts = ["Vendo fentanilo ampollas | DOSE 100 mcg | Minsa | delivery",
             "Selling fentanyl patch 100mcg, hmu — hospital grade DOSE, patient leftovers"]
    for c in classify(texts):
        assert c.is_offer and c.decided_by == "lexicon" and "explicit offer" in c.rule
    news = classify(["El Minsa advierte sobre la venta ilegal de fentanilo por WhatsApp y pide denunciar",
                     "If you see someone selling M30s on this subreddit report them"])
    assert [c.is_offer for c in news] == [False, False]


def test_market_descriptions_and_spanish_social_rules():
    listings = ["MDMA crystals 84% 5g\nLab tested, a cleaner high than heroin. Ships worldwide",
                "Heroin #4 1g\nAfghan; crack and meth on my page too",
                "Kratom Red Bali 100g\nGreat for opiate withdrawal"]
    got = classify(listings, context="market")
    assert [c.is_offer for c in got] == [False, True, False]
    assert "title sells another drug" in got[0].rule
    posts = ["Detienen a banda que vendía fentanilo por delivery en Los Olivos",
             "Precio del tramadol en Inkafarma con receta",
             "Tengo parches durogesic 50, interesados al wsp 987 654 321",
             "vendo oxicodona 80 mg 5 lucas c/u", "Percs available", "Roxys on deck",
             "Methadone treatment available at the clinic"]
    assert [c.is_offer for c in classify(posts)] == [False, False, True, True, True, True, False]


def test_social_vs_market_vs_chat_vs_ad():
    listing = "Fentanyl HCl 98% pure powder 1 gram"
    social, market, ad = (classify([listing], context=c)[0] for c in ("social", "market", "ad"))
    assert market.is_offer and ad.is_offer and social.decided_by == "model"
    req = classify(["alguien vende fentanilo? urgente"], context="chat")[0]
    assert not req.is_offer and req.kind == "request" and req.decided_by == "lexicon"
    assert classify(["alguien vende fentanilo? urgente"], context="social")[0].kind == "none"
    with pytest.raises(ValueError, match="context must be one of"):
        classify(["x"], context="forum")


def test_cli_context_option_and_explanation(db_url):
    res = runner.invoke(app, ["online", "classify", "--context", "market",
                              "Opana ER 40mg x5 | stealth"])
    out = json.loads(res.output)
    assert res.exit_code == 0 and out["is_offer"] and out["context"] == "market"
    assert out["explanation"]["decided_by"] == "lexicon" and "opana" in out["rule"]
    res = runner.invoke(app, ["online", "classify", "Opana ER 40mg x5"])
    assert json.loads(res.output)["context"] == "social"
    res = runner.invoke(app, ["online", "classify", "--context", "forum", "x"])
    assert res.exit_code == 2 and "--context must be one of" in res.output


def test_connectors_declare_their_context(tmp_path):
    def read(name, fmt):
        return list(get_connector(fmt).read(FIX / name, NOW))

    assert {p.context for p in read("darknet_listings.csv", "darknet")} == {"market"}
    assert {p.context for p in read("whatsapp_ios.txt", "whatsapp")} == {"chat"}
    assert {p.context for p in read("posts.csv", "posts")} == {"social"}
    ads = tmp_path / "ads.csv"
    ads.write_text("platform,text,context\nolx,Parches de fentanilo 50mcg x5,ad\n", encoding="utf-8")
    got = list(get_connector("posts").read(ads, NOW))
    assert got[0].context == "ad" and got[0].provenance()["context"] == "ad"
    bad = tmp_path / "bad.csv"
    bad.write_text("text,context\nhola,forum\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match="bad.csv:2: context 'forum'"):
        list(get_connector("posts").read(bad, NOW))


def test_lexicon_shares_the_ews_registry_names():
    shared = {t["term"]: t["substance"] for terms in registry_terms().values() for t in terms}
    assert shared["isotonitazene"] == "isotonitazene" and "ohmefentanyl" in shared
    assert "iso" not in shared and "pink" not in shared  # ambiguous synonyms stay out
    hits = load_lexicon().match("ohmefentanyl 1g y metonitazeno")
    assert "ohmefentanyl" in hits.substances and "metonitazene" in hits.substances


_TEXTS = [
    ("Vendo ampollas de fentanilo 0.5mg, delivery SJL, yape 987654321", "social", True),
    ("Selling M30 blues, hmu, cashapp $25 each", "social", True),
    ("Incautan 2 mil ampollas de fentanilo en Tumbes, informó la PNP", "social", False),
    ("My doctor prescribed fentanyl patches after surgery", "social", False),
    ("Fentanyl HCl 98% pure powder 1 gram", "market", True),
    ("Subutex 8mg x 10 tablets", "market", True),
    ("MDMA crystals 84% 5g", "market", False),
    ("Fentanyl test strips x10", "market", False),
    ("alguien vende fentanilo en Lima?", "chat", False),
]
_SEPARATORS = [" ", " | ", " / ", " • ", "\n", " - ", " ~ ", " · ", " ★ ", "|", "•", " 🔥 ", "✅",
               ", ", "! ", " \n\n "]
_DECOR = ["", "🔥", "✅", "!!", "...", "⭐️", "👉"]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(_TEXTS), seps=st.lists(st.sampled_from(_SEPARATORS), min_size=30,
                                                   max_size=30),
       upper=st.booleans(), decor=st.sampled_from(_DECOR), tail=st.sampled_from(_DECOR))
def test_formatting_does_not_change_a_verdict(case, seps, upper, decor, tail):
    """Separators between words, line joins, upper case, emoji and trailing punctuation."""
    text, context, expected = case
    words = text.split(" ")
    mangled = words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=False))
    mangled = f"{decor}{mangled.upper() if upper else mangled}{tail}"
    got = classify([mangled], context=context, language=False)[0]
    assert got.is_offer is expected, (mangled, got.rule, got.model_probability)


def test_place_finder_ignores_verbs_and_words():
    def names(t):
        return [p.name for p in find_places(t)]

    assert names("llama al 987654321 para pedidos") == []
    assert names("delivery, llama ya") == []
    assert names("me quedé callao al verlo") == []
    assert names("le di un puño") == []
    assert names("delivery Lima y Callao al por mayor") == ["Lima", "Callao"]
    assert names("entrego en Cañete y Puno") == ["Cañete", "Puno"]
    assert names("distrito de Llama, Chota") == ["Llama", "Chota"]


REAL_SETS = [
    ("agora_listings_2014-01_02.jsonl", "market"),
    ("agora_titles_2014-03.jsonl", "market"),
    ("dream_titles_2016-2017.jsonl", "market"),
]


@pytest.mark.parametrize(("name", "context"), REAL_SETS)
def test_real_market_listings_beat_the_keyword_baseline(name, context):
    """Labelled real listings (docs/online.md): F1 ≥ 0.95 and never below the keyword rule."""
    ev = evaluate(model_store.get_model().model, rows(REAL / name), context)
    assert ev.model["f1"] >= 0.95, ev.errors[:5]
    assert ev.model["f1"] >= ev.keyword_baseline["f1"]
    assert ev.model["precision"] >= 0.95


def test_real_listings_without_their_context_still_beat_the_keyword_rule():
    """Read as social posts (a caller that forgot --context), listings of other drugs must not
    become opioid offers because the model sees sale language."""
    ev = evaluate(model_store.get_model().model, rows(REAL / REAL_SETS[0][0]), "social")
    assert ev.model["f1"] >= ev.keyword_baseline["f1"] and ev.model["precision"] >= 0.95


def test_real_buyer_reviews_are_not_offers():
    """Real buyer feedback (all non-offers): fewer false alarms than the keyword rule."""
    ev = evaluate(model_store.get_model().model, rows(REAL / "agora_feedback_2014-01_02.jsonl"),
                  "social")
    assert ev.model["fp"] <= ev.keyword_baseline["fp"] and ev.model["fp"] <= 3


def test_hand_written_sets_beat_the_keyword_baseline():
    model = model_store.get_model().model
    hand = evaluate(model, rows(FIX / "handwritten_eval.jsonl"))
    titles = evaluate(model, rows(FIX / "market_titles_eval.jsonl"), "market")
    for ev in (hand, titles):
        assert ev.model["f1"] >= max(0.95, ev.keyword_baseline["f1"]), ev.errors
