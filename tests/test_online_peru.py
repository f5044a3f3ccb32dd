"""Peruvian market text the classifier missed (review of 2026-12-06), one group per cause.

Each group has the texts the fix is for and look-alikes that must keep the other verdict. The
strings are written for these tests: none is in the training corpus or in the evaluation set
``fixtures/online/peru_eval.jsonl`` (both checked below).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from centinela.online import model_store
from centinela.online.classify import classify
from centinela.online.decide import rules_for
from centinela.online.lexicon import load_lexicon
from centinela.online.quotes import NO_QUOTES, quoted_speech

PERU = Path(__file__).parent / "fixtures" / "online" / "peru_eval.jsonl"


def kinds(texts: list[str], context: str = "chat") -> list[str]:
    return [c.kind for c in classify(texts, context=context, language=False)]


# 1. Warnings that quote the dealer's ad: the seller's words are inside the quote
QUOTED_WARNINGS = [
    'Cuidado, este número 987654321 le manda "tengo fenta, 50 soles, yapea" a los chibolos',
    "miren esto que circula: «vendo fentanilo puro, delivery Lima, pago yape». Esto es un peligro",
    "le mandaron este mensaje a mi hijo: tengo fentanilo de clínica 50 c/u, yapea al 987654321",
    'ese pata dice "tengo fenta de hospital, 40 lucas al privado" pero es mentira, no le compren',
]
# look-alikes: sellers who quote (a slogan, a product name) around their own offer
QUOTING_SELLERS = [
    'tengo la "fenta de hospital" 🐉 60 el sobre, yapean y recogen',
    "traigo 'fenta original' para el finde, 70 la bolsita, yapeas al toque",
]


@pytest.mark.parametrize("context", ["social", "chat"])
def test_a_warning_quoting_the_sellers_ad_is_not_an_offer(context):
    got = classify(QUOTED_WARNINGS, context=context, language=False)
    assert [c.kind for c in got] == ["none"] * len(QUOTED_WARNINGS), [c.rule for c in got]
    assert all(c.decided_by == "lexicon" and "quotes a seller's ad" in c.rule for c in got)


def test_a_seller_who_quotes_is_still_an_offer():
    assert kinds(QUOTING_SELLERS) == ["offer"] * len(QUOTING_SELLERS)


def test_quoted_speech_splits_quote_and_frame():
    lex = load_lexicon()
    reports = rules_for(lex).quote_frame.search
    q = quoted_speech('OJO: este tipo manda "Vendo FENTA a 50" a los chicos', lex, reports)
    assert q.quoted == "vendo fenta a 50" and q.marked and "este tipo manda" in q.frame
    colon = quoted_speech("le escribieron a mi sobrina: vendo fenta, pago yape", lex, reports)
    assert colon.quoted == "vendo fenta pago yape" and not colon.marked
    # a colon after a seller's own words is not someone else's speech; an apostrophe is no quote
    assert quoted_speech("Me llegó stock: fentanilo 50 c/u", lex, reports) == NO_QUOTES
    assert quoted_speech("fenta pa' los conocedores, entrego en SJL", lex, reports) == NO_QUOTES


# 2. A relative's worry or call for help, without a question mark
WORRIES = [
    "Mi hija le compra fenta a un tipo que le escribe por whatsapp, ya no sé qué hacer con ella",
    "mi hermano se gasta 150 soles en fenta cada semana, estoy desesperada",
    "necesito ayuda, mi esposo consume fentanilo desde la operación",
    "busco orientación para mi sobrino que compra fentas en el parque",
]
# look-alikes: a buyer's own distress is still a request; a seller in distress still sells
BUYER_IN_DISTRESS = "estoy desesperado, alguien que tenga fenta por Comas? yapeo al toque"
SELLER_IN_DISTRESS = "estoy desesperado por plata, remato mis fentas a 30 c/u, al privado"


def test_a_worried_relative_is_neither_an_offer_nor_a_request():
    got = classify(WORRIES, context="chat", language=False)
    assert [c.kind for c in got] == ["none"] * len(WORRIES), [c.rule for c in got]
    assert all("worry or call for help" in c.rule for c in got)


def test_a_buyer_or_seller_in_distress_keeps_their_kind():
    assert kinds([BUYER_IN_DISTRESS, SELLER_IN_DISTRESS]) == ["request", "offer"]


# 3. "fenta" held by the seller, priced per unit or with a payment verb
SLANG_OFFERS = [
    "tengo fenta x si alguien necesita, 50 el punto, yapean",
    "tenemos la fenta de siempre, yapeen y les aviso donde",
    "hay fenta muchachos, 30 el punto, los de siempre saben",
]
# look-alikes: alarm about the drug's presence, and brands that contain a street name
SLANG_NOT = [
    "hay fenta en el colegio de mi hijo, 60 el sobre dicen, no sé qué hacer",
    "Fenty Skin bloqueador nuevo sellado, S/ 110, delivery Miraflores",
    "Vendo moto TVS Apache RTR 160, año 2021, S/ 5500 conversable",
]


def test_fentanyl_slang_held_by_the_seller_is_a_fentanyl_offer():
    got = classify(SLANG_OFFERS, context="chat", language=False)
    assert [c.kind for c in got] == ["offer"] * len(SLANG_OFFERS), [c.rule for c in got]
    # decided by the rule, not left to the model's reading of the slang
    assert all(c.decided_by == "lexicon" and "fentanyl slang" in c.rule for c in got)
    assert all(c.substances == ["fentanyl"] for c in got)


def test_slang_look_alikes_are_not_offers():
    got = classify(SLANG_NOT, context="chat", language=False)
    assert [c.kind for c in got] == ["none"] * len(SLANG_NOT), [c.rule for c in got]


# 4. Harm-reduction products named in Spanish word order ("tiras … para detectar fentanilo")
HR_PRODUCTS = ["Vendo tiras reactivas para detectar fentanilo, pack x 20, S/ 150, yape",
               "tiras de prueba de fentanilo y de xilacina x mayor, envíos a provincia"]
HR_LOOK_ALIKE = "Vendo fentanilo en ampollas, de regalo tiras reactivas, yape al 987654321"


@pytest.mark.parametrize("context", ["ad", "social"])
def test_test_strips_for_fentanyl_are_not_fentanyl(context):
    assert kinds(HR_PRODUCTS, context) == ["none", "none"]
    assert kinds([HR_LOOK_ALIKE], context) == ["offer"]


# 5. Job ads that list the drugs handled; buy requests in Peruvian phrasing
JOB_AD = ("Se necesita químico farmacéutico para clínica en Surco, manejo de estupefacientes "
          "(fentanilo, morfina), sueldo S/ 3500, CV al wsp")
DEALER_HIRING = "vendo fentanilo al por mayor, se busca motorizado, buen sueldo, wsp 987654321"
REQUESTS = ["alguien que tenga fenta por Chorrillos? pago bien",
            "algún contacto que tenga oxi por Surco?"]


def test_a_job_ad_is_not_an_offer_but_a_dealer_hiring_still_sells():
    assert kinds([JOB_AD, DEALER_HIRING], "social") == ["none", "offer"]


def test_peruvian_buy_requests_are_requests():
    assert kinds(REQUESTS) == ["request", "request"]


def test_strings_are_neither_training_nor_evaluation_data():
    groups = (QUOTED_WARNINGS, QUOTING_SELLERS, WORRIES, [BUYER_IN_DISTRESS, SELLER_IN_DISTRESS],
              SLANG_OFFERS, SLANG_NOT, HR_PRODUCTS, [HR_LOOK_ALIKE, JOB_AD, DEALER_HIRING],
              REQUESTS)
    corpus = {r["text"].lower() for r in model_store.corpus_rows()}
    peru = {json.loads(x)["text"].lower() for x in PERU.read_text(encoding="utf-8").splitlines()}
    assert not [t for g in groups for t in g if t.lower() in corpus | peru]
    assert not [r for r in peru if r in corpus]


def test_peru_evaluation_set_tune_split_stays_right():
    rows = [json.loads(x) for x in PERU.read_text(encoding="utf-8").splitlines() if x.strip()]
    tune = [r for r in rows if r["split"] == "tune"]
    assert len(tune) >= 100 and len(rows) - len(tune) >= 50
    got = classify([r["text"] for r in tune], context=[r["context"] for r in tune], language=False)
    want = ["offer" if r["label"] else "request" if r["kind"] == "request" and r["context"] == "chat"
            else "none" for r in tune]
    wrong = [(r["id"], w, g.kind) for r, w, g in zip(tune, want, got, strict=True) if g.kind != w]
    assert len(wrong) <= 2, wrong
