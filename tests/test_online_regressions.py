"""Regressions from an outside tester's probe of the online-market classifier.

Each group holds the probe's failing text(s) as reported, then paraphrases written for these
tests. None of these strings is in the training corpus (checked below): they test the
normalization and the decision rules, not memory.
"""

from __future__ import annotations

import pytest

from centinela.online import model_store
from centinela.online.classifier import view
from centinela.online.classify import classify
from centinela.online.lexicon import join_spelled, load_lexicon


def verdicts(texts: list[str], context: str = "social") -> list[bool]:
    return [c.is_offer for c in classify(texts, context=context, language=False)]


# 1. Words spelled out letter by letter
SPELLED_OFFERS = [
    "F E N T A disponible 💉💉 consulta precios por interno",  # probe
    "F.E.N.T.A disponible",  # probe
    "f-e-n-t-a-n-i-l disponible",  # probe
    "vendo f_e_n_t_a_n_i_l_o, yape al 987 654 321",
    "F. E. N. T. A. N. I. L. O. en ampollas, escríbeme al privado",
    "f💊e💊n💊t💊a disponible, delivery en SJL",
    "tengo F 3 N T 4 de la buena, 250 soles el gramo, al wsp",
    "T-R-A-M-A-D-O-L 100mg sin receta, delivery a todo Lima, 987 000 111",
]
SPELLED_NOT = [
    "Incautan F.E.N.T.A.N.I.L.O en Tumbes, informó la PNP",
    "Botica San José S.A.C.: paracetamol y vitamina b y c, delivery, 987 654 321",
]


def test_spelled_out_names_are_joined_before_matching():
    lex = load_lexicon()
    assert lex.join_spelled("f e n t a disponible") == "fenta disponible"
    assert lex.join_spelled("f.e.n.t.a.n.i.l y tusi") == "fentanil y tusi"
    assert lex.join_spelled("f-e-n-t") == "fent"
    assert lex.join_spelled("vendo f e n t a y tusi") == "vendo fenta y tusi"  # "y" stays a word
    # Mixed separators join only into a drug name; other abbreviations stay as written.
    assert lex.join_spelled("f.e n-t a disponible") == "fenta disponible"
    assert lex.join_spelled("vendo f.e n-t a y tusi") == "vendo fenta y tusi"
    assert lex.join_spelled("t r a-m a d o l") == "tramadol"
    assert lex.join_spelled("ok p.m lo de la u-n i") == "ok p.m lo de la u-n i"
    assert lex.join_spelled("9 8 7.1 2 3") == "9 8 7.1 2 3"
    # not spelled words: spaced phone digits, one-letter words, two-letter runs, mixed separators
    for text in ["al 9 8 7 1 2 3 4 5 6", "a y o", "vitamina b y c", "c/u", "x q", "p.m s.a.c",
                 "de 25 y 50"]:
        assert join_spelled(text) == text.replace("s.a.c", "sac")
    assert view("F.E.N.T.A disponible") == "fenta disponible"
    assert view("f💊e💊n💊t💊a") == "fenta 💊 💊 💊 💊"
    hits = lex.match("F E N T A N I L O")
    assert hits.substances == ["fentanyl"]


def test_spelled_out_offers():
    got = classify(SPELLED_OFFERS + SPELLED_NOT, language=False)
    assert [c.is_offer for c in got] == [True] * len(SPELLED_OFFERS) + [False] * len(SPELLED_NOT), \
        [(c.rule, c.model_probability) for c in got]
    assert got[0].substances == ["fentanyl"]


# 2. Menus with slang, slashes, emoji bullets and a price after each item
MENUS = [
    "Menu de hoy 🍁 cripy 20 / 🍬 tusi 80 / 💊 fenta 120 / ❄️ perico 60 - delivery en La Victoria",
    "MENÚ 🌿 weed 20 | 💊 fenta 100 | ❄️ coca 50 — delivery SJL",
    "Lista de hoy: tusi 80 / fentas 120 / cripy 25, pedidos al wsp",
    "carta del finde: cripy a 20, fenta a 120, perico a 60, hago delivery",
    "menu 🍃 kush 40 / 💊 fent 30 / ❄️ coke 80, delivery tonight",
    "cripy 20 / tusi 80 / fentanilo 120 / perico 60 - delivery en La Victoria",
]
MENUS_NOT = [
    "Menú del día: chaufa 15 / lomo saltado 20 / causa 8 - delivery en Surco",
    "Según la PNP, en la calle el tusi cuesta 80 y la fenta 120, informó el diario",
    "Decomisan cripy 20 kg y fentanilo 3 kg en Tumbes",
    "Menu de hoy 🍁 cripy 20 / 🍬 tusi 80 / ❄️ perico 60 - delivery en La Victoria",
]


@pytest.mark.parametrize("context", ["chat", "social"])
def test_drug_menus_with_street_names_are_offers(context):
    got = classify(MENUS + MENUS_NOT, context=context, language=False)
    assert [c.is_offer for c in got] == [True] * len(MENUS) + [False] * len(MENUS_NOT), \
        [(c.rule, c.model_probability) for c in got]
    assert "menu" in got[0].rule and got[0].decided_by == "lexicon"


# 3. Fentanyl patches offered without the drug's name, by their strengths
PATCH_OFFERS = [
    "tengo los parchecitos para el dolor fuerte que usan en el hospital, de 25 y 50, "
    "interesados al privado",  # probe
    "me sobraron unos parches del tratamiento de mi abuela, de 25 mcg, los dejo a buen precio, "
    "interesados al inbox",
    "parchecitos de 100 y de 50 para el dolor, sellados, al wsp 987 111 222",
    "tengo parches transdérmicos de 75 para dolor de cáncer, yape al 987 654 321",
]
PATCH_NOT = [
    "Se venden parches de nicotina de 21 mg, caja x 7, S/ 90, delivery",
    "Vendo parches bordados de 25 soles, interesados al privado",
    "parches de lidocaína al 5%, de 25 unidades, S/ 30, interesados al privado",
    "busco parches para el dolor de 25 y 50 para mi mamá, interesados al privado",
    "Mi papá usa parches de 25 y 50 para el dolor, ¿cada cuánto se cambian?",
    "Vendo parches para la espalda, a precio de 25, interesados al privado",
]


def test_coded_fentanyl_patch_offers():
    got = classify(PATCH_OFFERS + PATCH_NOT, context="chat", language=False)
    assert [c.is_offer for c in got] == [True] * len(PATCH_OFFERS) + [False] * len(PATCH_NOT), \
        [(c.rule, c.model_probability) for c in got]
    first = got[0]
    assert first.decided_by == "lexicon" and "coded fentanyl-patch" in first.rule
    assert first.probability >= 0.8  # CODED_PROBABILITY, or the model's when higher
    assert first.substances == ["fentanyl"]  # inferred, for the EWS signal
    (market,) = classify(["Transdermal patches 75mcg/h x 10 - stealth shipping"], context="market")
    assert market.is_offer and "coded fentanyl-patch" in market.rule


# 4. Scam warnings carry the seller's phone and payment app
WARNINGS = [
    "CUIDADO: el número 987 222 333 ofrece fentanilo por Telegram, es una estafa, te piden Yape "
    "adelantado y te bloquean",  # probe
    "ojo: el 987 222 333 vende fentanilo falso, es estafa, te piden yape adelantado y te bloquean",
    "OJO con el 912 345 678, dice que tiene fentanilo, pide plin por adelantado y te bloquea, "
    "es un estafador",
    "Scam alert: @fentplug takes cashapp upfront for fentanyl and blocks you",
    "no le compren fenta al 987 654 321, se quedan con tu plata, piden yape",
    "Se vende fentanilo? no, es una estafa, cuidado con ese numero",
]
SELLERS = [
    "Vendo fentanilo original, no es estafa, yape al 987 654 321",
    "Vendo fentanilo en ampollas, cuidado con los estafadores, solo este número 987 654 321",
    "selling fentanyl patches, not a scam, cashapp, dm me",
]


@pytest.mark.parametrize("context", ["social", "chat", "ad"])
def test_scam_warnings_are_not_offers_even_with_phone_and_payment(context):
    got = classify(WARNINGS + SELLERS, context=context, language=False)
    assert [c.is_offer for c in got] == [False] * len(WARNINGS) + [True] * len(SELLERS), \
        [(c.rule, c.model_probability) for c in got]
    assert "warning" in got[0].rule and got[0].decided_by == "lexicon"


# 5. Questions and fears about the drug's presence
QUESTIONS = [
    "¿Es verdad que en Perú ya hay fentanilo en la calle? vi un reportaje de EEUU y me asusté",  # probe
    "¿hay fentanilo en Lima? me da miedo",
    "¿Es verdad que ya hay fentanilo en la calle en Lima?",
    "¿Ya llegó el fentanilo a Trujillo? mi hijo sale de noche",
    "¿Es cierto que el fentanilo ya está en Arequipa?",
    "leí que ya hay fenta en los colegios, me preocupa",
    "is it true there's fentanyl in the weed in Lima now? so scary",
]
STILL_OFFERS = [
    "¿Buscas fenta? escríbeme al 987 654 321",
    "¿Quién quiere fentanilo? 80 soles la ampolla, delivery",
    "alguien quiere? tengo fentanil de hospital, 10 ampollitas, 30 lucas cada una",
    "¿Dolor fuerte? vendo fentanilo en parches, al privado",
]


def test_questions_and_fears_are_not_offers():
    got = classify(QUESTIONS + STILL_OFFERS, language=False)
    assert [c.is_offer for c in got] == [False] * len(QUESTIONS) + [True] * len(STILL_OFFERS), \
        [(c.rule, c.model_probability) for c in got]
    assert got[0].decided_by == "lexicon"


def test_buyers_asking_are_still_requests_in_chats():
    got = classify(["¿alguien tiene fenta? al priv", "¿alguien vende fentanilo en Lima?",
                    "¿hay fentanilo en Lima? me da miedo"], context="chat", language=False)
    assert [(c.is_offer, c.kind) for c in got] == [(False, "request"), (False, "request"),
                                                   (False, "none")]


def test_regression_strings_are_not_training_data():
    corpus = {r["text"].lower() for r in model_store.corpus_rows()}
    groups = (SPELLED_OFFERS, SPELLED_NOT, MENUS, MENUS_NOT, PATCH_OFFERS, PATCH_NOT, WARNINGS,
              SELLERS, QUESTIONS, STILL_OFFERS)
    assert not [t for g in groups for t in g if t.lower() in corpus]


# 6. Fentanyl's slang short form with a seller's own words, among other drugs (written after
#    the probe's fixes, by another hand)
SLANG_OFFERS = [
    "tengo tussi, keta y fenta para el fin de semana, manden msj",
    "hay fenta, tussi y keta, escriban al interno",
    "tengo fenta para el fin de semana, manden msj",
]
SLANG_NOT = [
    "la fenta está matando gente, denuncien al 105",
    "fetty wap nuevo tema, escribanme para entradas",
]


def test_fentanyl_slang_with_a_sellers_own_words_is_an_offer():
    assert verdicts(SLANG_OFFERS) == [True] * len(SLANG_OFFERS)
    assert verdicts(SLANG_NOT) == [False] * len(SLANG_NOT)


def test_a_price_shows_as_written_in_the_hits_and_counts_as_before():
    # The price pattern stops at a number's first digit: the lead's explanation read "s/ 5" for
    # "s/ 500". The hit now shows the whole number; two prices with the same first digit still
    # count once (the model's lexicon features are those it was trained with).
    lex = load_lexicon()
    hits = lex.match_folded(view("Vendo fenta a S/ 500 la caja, por mayor S/. 1,200"))
    assert "s/ 500" in hits.by_category["sale"] and "s/. 1,200" in hits.by_category["sale"]
    assert "s/ 5" not in hits.by_category["sale"]
    same = lex.match_folded(view("oferta s/ 500 y s/ 550"))
    assert same.by_category["sale"] == ["s/ 500"]
    got = classify(["Vendo fentanilo ampollas a s/ 500 la caja, escribe al 987654321"],
                   context="chat", language=False)[0]
    assert "s/ 500" in got.lexicon["sale"]
