"""Classifier: shipped artefact, tricky negatives, explanations, calibration, fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from centinela.online import model_store
from centinela.online.classifier import evaluate
from centinela.online.classify import classify, identify_language
from centinela.online.lexicon import load_lexicon

FIX = Path(__file__).parent / "fixtures" / "online"

OFFERS = [
    "Vendo fentanilo en ampollas sin receta, delivery SJL, yape al 987 654 321",
    "Tengo f3nt4n1l0 de hospital, caja x 10 amp, precio conversable, al privado",
    "blues M30 🔵 S/ 35 c/u delivery Comas, plin",
    "new batch tango & cash just landed 💯 hmu, cashapp",
    "Parches Durogesic 50 mcg/h originales, envíos a provincia, pago por Yape",
    # a brand name only the EWS registry's synonyms list (the lexicon reads them)
    "tengo ampollas de fentanest 10ml sin receta, precio x mayor, DM",
    # a patch named by its strength, a diminutive, "I don't ask for a prescription"
    "tengo parchecitos de 100 para el dolor fuerte, no pido receta, contacto 9 6 5 4 3 2 1 0 8",
]
TRICKY_NEGATIVES = [
    # a question about who sells (a lead for inspectors, not an offer) and a scam warning
    "Alguien sabe si en la farmacia de la av. arequipa venden fentanilo sin receta? mi papá "
    "tiene cáncer y no consigo",
    "Se vende fentanilo? no, es una estafa, cuidado con ese numero",
    "Incautan 2 mil ampollas de fentanilo en Zarumilla, Tumbes, informó la PNP",
    "Decomisan ampollas de fentanilo en una botica de Castilla, Piura; dos detenidos",
    "Si alguien no respira, usa naloxona: el fentanilo está en las pastillas azules. No consumas solo",
    "Never use alone and carry narcan, the blues in town are all fent",
    "Botica Santa Lucía: paracetamol 500 mg a S/ 5, delivery gratis, Yape al 944 555 112",
    "Ibuprofeno 400 mg x 100 tabletas S/ 12.90, delivery en Trujillo, pago con Plin",
    "Vendo cripy y tusi, delivery en Surco, yape",
    "El anestesiólogo usó fentanilo en la cirugía de mi papá, ya despertó bien",
    "El Minsa advierte sobre la venta ilegal de fentanilo por WhatsApp con pago por Yape y pide denunciar",
    "Farmacia: atendemos recetas de tramadol con receta médica, delivery en Miraflores",
]


def test_shipped_artefact_loads_and_manifest_is_honest():
    loaded = model_store.load(prefer_user=False)
    assert loaded.source == "package"
    m = loaded.manifest
    assert m["artefact_bytes"] < 5_000_000 and m["n_test"] > 500
    assert m["metrics"]["test_set"].startswith("synthetic")
    assert m["metrics"]["model"]["f1"] >= m["metrics"]["keyword_baseline"]["f1"]


def test_offers_and_tricky_negatives():
    results = classify(OFFERS + TRICKY_NEGATIVES)
    offers, negatives = results[:len(OFFERS)], results[len(OFFERS):]
    assert [r.is_offer for r in offers] == [True] * len(OFFERS), [r.probability for r in offers]
    assert [r.is_offer for r in negatives] == [False] * len(TRICKY_NEGATIVES), \
        [r.probability for r in negatives]
    # the keyword baseline falls for the warning and the legitimate pharmacy; the model does not
    assert negatives[-2].keyword_offer and negatives[-1].keyword_offer


def test_explanation_names_terms_and_lexicon_hits():
    (r,) = classify(["Vendo fentanilo en ampollas sin receta, delivery, yape 987654321"], explain=True)
    exp = r.explanation
    assert r.substances == ["fentanyl"] and r.language == "es"
    assert "fentanilo" in exp["lexicon"]["fentanyl"] and "yape" in exp["lexicon"]["payment"]
    assert exp["toward_offer"] and all(score > 0 for _, score in exp["toward_offer"])
    assert any(name.startswith("lexicon:") for name, _ in exp["features"])


def test_language_identification():
    assert identify_language("Vendo ampollas originales, delivery a todo Lima")[0] == "es"
    assert identify_language("Selling pressed blues, same day delivery, hit me up")[0] == "en"


def test_lexicon_misspellings_and_leet():
    lex = load_lexicon()
    assert lex.match("f3nt4n1l0 original").by_category["fentanyl"]
    assert lex.match("fentannylo para los que saben").substances == ["fentanyl"]
    assert lex.match("moprhine 30mg").substances == ["morphine"]
    assert not lex.match("un fenómeno de ventas").opioid


def test_handwritten_set_beats_keyword_baseline():
    rows = [json.loads(x) for x in (FIX / "handwritten_eval.jsonl").read_text(encoding="utf-8").splitlines()]
    ev = evaluate(model_store.get_model().model, rows)
    assert len(rows) == 60
    assert ev.model["accuracy"] >= 0.9 and ev.model["f1"] > ev.keyword_baseline["f1"]


def test_incompatible_artefact_falls_back_to_training(tmp_path, monkeypatch):
    folder = tmp_path / "online-model"
    folder.mkdir()
    (folder / model_store.MODEL_FILE).write_bytes(b"not a pickle")
    manifest = json.loads((model_store.package_dir() / model_store.MANIFEST_FILE).read_text())
    (folder / model_store.MANIFEST_FILE).write_text(json.dumps(manifest))
    monkeypatch.setattr(model_store, "user_dir", lambda: folder)
    assert model_store.check(folder) == (None, "artefact hash does not match its manifest")
    monkeypatch.setattr(model_store, "package_dir", lambda: folder)
    monkeypatch.setattr(model_store, "corpus_rows", _shipped_rows)
    loaded = model_store.load()
    assert loaded.source == "fallback-trained"
    proba, _ = loaded.model.predict_proba(["vendo fentanilo ampollas delivery yape"])
    assert 0.0 <= proba[0] <= 1.0


def _shipped_rows() -> list[dict]:
    from centinela.online.corpus import read_jsonl

    path = Path(__file__).resolve().parents[1] / "src" / "centinela" / "online" / "data" / "corpus.jsonl"
    rows = read_jsonl(path)
    return [r for i, r in enumerate(rows) if i % 6 == 0]  # small and quick


@pytest.mark.parametrize("text", ["", "🙂", "a" * 5000])
def test_degenerate_inputs(text):
    (r,) = classify([text])
    assert 0.0 <= r.probability <= 1.0


def _probe_texts() -> list[str]:
    import random

    rows = model_store.corpus_rows()
    hand = [json.loads(x)["text"] for x in (FIX / "handwritten_eval.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in rows[::7]] + hand + OFFERS + TRICKY_NEGATIVES
    texts += ["", "🙂", "a" * 500, "  x \t y\n z ", "m30mg f3nt4n1l0 s/.35 $20 x10 ch1n4 wh1t3 💊🔵"]
    rnd = random.Random(7)
    mutated = []
    for t in texts[:400]:
        chars = list(t)
        for _ in range(4):
            chars.insert(rnd.randrange(len(chars) + 1), rnd.choice("ab 0139$/.-_💊🔵ñ@"))
        mutated.append("".join(chars))
    return texts + mutated


def test_fast_tfidf_equals_sklearn_transform():
    import numpy as np

    from centinela.online.classifier import FastTfidf, prepare

    model = model_store.get_model().model
    prepared = [prepare(t) for t in _probe_texts()]
    for vec in (model.char, model.word):
        fast = FastTfidf(vec)
        assert fast.exact
        for _ in range(2):  # cold, then warm word cache
            a, b = vec.transform(prepared), fast.transform(prepared)
            a.sort_indices()
            assert (a.indptr == b.indptr).all() and (a.indices == b.indices).all()
            assert np.allclose(a.data, b.data, rtol=1e-6, atol=1e-7)


def test_lexicon_fast_scan_equals_combined_regex():
    from centinela.lib.text import deleet, fold

    lex = load_lexicon()
    for text in _probe_texts():
        for v in {fold(text), deleet(fold(text))}:
            assert lex.finditer(v) == [(m.lastgroup, m.group(0)) for m in lex.combined.finditer(v)], v


def test_fast_language_id_equals_langid():
    from centinela.online.classify import _fast_identifier, _identifier

    fast, ref = _fast_identifier(), _identifier()
    assert fast is not ref
    for text in _probe_texts()[::3]:
        (a, pa), (b, pb) = ref.classify(text), fast.classify(text)
        assert a == b and abs(pa - pb) < 1e-9, text


def test_pickled_model_keeps_no_caches(tmp_path):
    import joblib

    model = model_store.get_model().model
    model.predict_proba(["vendo fentanilo delivery"])
    model.feature_names()
    joblib.dump(model, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    assert not [k for k in again.__dict__ if k.startswith("_")]
    assert again.predict_proba(["vendo fentanilo delivery"])[0][0] > 0.5


def test_corpus_is_deterministic_and_new_families_keep_their_split():
    from centinela.online import corpus_banks
    from centinela.online.corpus import generate, split_of

    rows = generate()
    shipped = model_store.corpus_rows()
    assert rows == shipped  # `centinela online corpus` reproduces the packaged file
    for r in rows:
        assert r["split"] == split_of(int(r["template"].split("#")[1]))
    fams = {r["family"]: r["label"] for r in rows}
    for fam, label in [("menu_opioid_es", 1), ("coded_amp_es", 1), ("rx_sale_es", 1),
                       ("menu_other_es", 0), ("amp_legit_es", 0), ("course_es", 0),
                       ("recovery_es", 0), ("pharmacy_rx_es", 0), ("seized_list_es", 0)]:
        assert fams[fam] == label
    # held-out opioid names of the new banks are never seen in training rows
    test_names = [x for i, x in enumerate(corpus_banks.RX_OPIOID_ES) if split_of(i) == "test"]
    train_text = " ".join(r["text"].lower() for r in rows if r["split"] == "train")
    assert not any(name.lower() in train_text for name in test_names)


def test_menu_and_coded_ampoule_offers_vs_their_counterparts():
    offers = [
        "oxicodona 20 mg y clonazepam disponibles, delivery a Comas, yape",
        "me quedan ampollitas de las que usan en sala, ustedes saben, plin al 987654321",
    ]
    negatives = [
        "Curso de farmacología para enfermería: morfina, tramadol y oxicodona, inversión S/ 150",
        "Llevo 200 días sin oxicodona ni tramadol, gracias al grupo",
        "Ampollas de biotina para el cabello, caja x 10, S/ 45, delivery en Surco, yape",
    ]
    res = classify(offers + negatives)
    assert [r.is_offer for r in res] == [True] * len(offers) + [False] * len(negatives), \
        [r.probability for r in res]
