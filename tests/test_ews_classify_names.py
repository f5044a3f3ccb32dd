"""The regulatory classifier never says "not controlled" for a name it does not recognize, and
reads common street names for what they are: "fenta" is fentanyl (street names are
unreliable), "china white" the fentanyl family, "M30" a counterfeit oxycodone pill that often
contains fentanyl — never asserted as fentanyl (a QA walkthrough found "fenta", "china white"
and "M30" answered "Ninguna de estas clases … No fiscalizada individualmente")."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from centinela.cli import app as cli_app
from centinela.ews.classify import _RECORDS, classify, classify_record

runner = CliRunner()
FENTANYL_KEY = "PJMPHNIQZUBGLI-UHFFFAOYSA-N"
NOT_CONTROLLED = re.compile(r"no fiscalizad|not (individually )?controlled", re.I)


@pytest.mark.parametrize("q", ["xyz123", "polvo blanco", "sustancia rara", "Qwerty Plus"])
def test_an_unrecognized_name_is_never_said_not_controlled(q):
    d = classify(q).as_dict()
    assert d["category"] == "unrecognized_name" and d["controlled"] is None
    assert d["error_es"] == ("nombre no reconocido: no se puede afirmar si está fiscalizada; "
                             "indique la estructura (SMILES) o pida análisis de laboratorio")
    assert d["error"].startswith("name not recognized: cannot say whether it is controlled")
    assert d["label_es"] == "Nombre no reconocido" and d["family_label_es"] == "no determinada"


@pytest.mark.parametrize("q", ["*C", "C1CC(", "AAAAAAAAAAAAAA-BBBBBBBBBB-N"])
def test_an_unusable_structure_is_not_said_not_controlled_either(q):
    d = classify(q).as_dict()
    assert d["error"] and d["controlled"] is None and d["label_es"] == "No se pudo clasificar"


@pytest.mark.parametrize("q", ["fenta", "fentan", "fetty", "FENTA"])
def test_fentanyl_slang_is_fentanyl_with_a_street_name_warning(q):
    d = classify(q).as_dict()
    assert d["registry_id"] == "fentanyl" and d["family"] == "fentanyl" and d["controlled"]
    assert d["review"] and d["street_name"]["synonym_of"] == "fentanyl"
    assert any("street names are unreliable" in n for n in d["notes"])


def test_china_white_is_the_fentanyl_family_not_a_substance():
    d = classify("china white").as_dict()
    assert d["category"] == "street_name" and d["registry_id"] is None and d["inchikey"] is None
    assert d["family"] == "fentanyl" and d["controlled"] is None and not d["fentanyl_class"]
    assert "sugerida por el nombre" in d["family_label_es"]
    assert {"fentanyl", "3-methylfentanyl", "alpha-methylfentanyl"} <= set(
        d["street_name"]["may_be"])
    assert "no se puede afirmar si está fiscalizada" in d["error_es"]


@pytest.mark.parametrize("q", ["M30", "M-30", "m30", "M 30", "blues", "M30 falsas"])
def test_m30_is_a_suspected_counterfeit_never_asserted_as_fentanyl(q):
    d = classify(q).as_dict()
    assert d["category"] == "street_name" and d["registry_id"] is None
    assert d["controlled"] is None and not d["fentanyl_class"] and d["review"]
    assert ("pastilla falsificada de oxicodona que con frecuencia contiene fentanilo: "
            "requiere análisis") in d["error_es"]
    assert "counterfeit oxycodone pill that often contains fentanyl" in d["error"]
    assert set(d["street_name"]["may_be"]) == {"fentanyl", "oxycodone"}


@pytest.mark.parametrize("q", ["ketamina + fentanilo", "fentanilo + xilacina",
                               "heroína cortada con fentanilo y xilazina", "M30 con fentanilo",
                               "fenta con xilacina"])
def test_mixtures_still_find_the_opioid(q):
    d = classify(q).as_dict()
    assert d["family"] == "fentanyl" and d["inchikey"] == FENTANYL_KEY and d["controlled"]
    assert d["error"] is None
    if "M30" in q:
        assert any("counterfeit oxycodone" in n for n in d["notes"])


def test_the_cached_record_keeps_the_street_warning_apart():
    """"fenta" names fentanyl but its record is not fentanilo's (nor the other way round)."""
    for order in (("fentanilo", "fenta"), ("fenta", "fentanilo")):
        _RECORDS.clear()
        first, second = (classify_record(q) for q in order)
        by_query = {order[0]: first, order[1]: second}
        assert by_query["fenta"]["street_name"] and not by_query["fentanilo"]["street_name"]
        assert by_query["fenta"] == classify("fenta").as_dict()


def test_cli_says_cannot_be_asserted_and_finds_the_opioid_in_mixtures(db_url):
    for q in ("fenta", "china white", "M30", "M-30", "xyz123"):
        out = runner.invoke(cli_app, ["ews", "classify", q]).output
        assert not NOT_CONTROLLED.search(out), (q, out)
    out = runner.invoke(cli_app, ["ews", "classify", "M30"])
    assert out.exit_code == 2 and "no se puede afirmar / cannot be asserted" in out.output
    assert "pastilla falsificada de oxicodona" in out.output
    out = runner.invoke(cli_app, ["ews", "classify", "xyz123"]).output
    assert "nombre no reconocido: no se puede afirmar si está fiscalizada" in out
    out = runner.invoke(cli_app, ["ews", "classify", "fenta"])
    assert out.exit_code == 0 and "sí / yes" in out.output and "nombre callejero" in out.output
    for q in ("ketamina + fentanilo", "fentanilo + xilacina"):
        out = runner.invoke(cli_app, ["ews", "classify", q, "--json"])
        assert out.exit_code == 0 and '"family": "fentanyl"' in out.output


def test_classifier_page_in_both_languages(as_user):
    client = as_user("policia")
    for q in ("fenta", "china white", "M30", "xyz123"):
        for lang in ("es", "en"):
            page = client.get("/ews/classify", params={"q": q, "lang": lang}).text
            box = page.split('id="classification"', 1)[1]
            assert not NOT_CONTROLLED.search(box), (q, lang)
    page = client.get("/ews/classify", params={"q": "xyz123"}).text
    assert 'data-controlled="unknown"' in page and "No se puede afirmar" in page
    assert "nombre no reconocido: no se puede afirmar si está fiscalizada" in page
    page = client.get("/ews/classify", params={"q": "M30", "lang": "en"}).text
    assert "counterfeit oxycodone pill that often contains fentanyl" in page
    assert "Cannot be asserted" in page
    page = client.get("/ews/classify", params={"q": "fenta"}).text
    assert 'data-controlled="yes"' in page and 'id="street-name"' in page
    assert "los nombres callejeros son poco fiables" in page
    caffeine = client.get("/ews/classify", params={"q": "caffeine"}).text
    assert "No fiscalizada individualmente" in caffeine  # positively identified, not controlled


def test_a_tip_of_fenta_is_a_fentanyl_signal_and_one_of_m30_is_not(session, now):
    from centinela.ews.detect import substance_key
    from centinela.ews.signals import record_signal

    fenta = record_signal(session, "citizen", "T-1", now, ubigeo="150101", substance="fenta")
    m30 = record_signal(session, "citizen", "T-2", now, ubigeo="150101", substance="M30")
    assert substance_key(fenta) == FENTANYL_KEY
    assert substance_key(m30) == "name:m30"
