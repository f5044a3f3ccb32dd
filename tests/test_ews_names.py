"""Reported substance names as people write them: spelling, salts, strengths, qualifiers,
typos, mixtures and unlisted names (centinela.ews.names, Registry.parse_reported, resolve)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from centinela.ews import names as nm
from centinela.ews.classify import classify
from centinela.ews.control import family_of
from centinela.ews.registry import registry, resolve
from centinela.lib.text import edit_distance


@pytest.mark.parametrize(("a", "b"), [
    ("fentanilo", "Fentanyl"), ("isotonitaceno", "isotonitazene"), ("morfina", "MORPHINE"),
    ("p-fluorofentanyl", "parafluorofentanilo"), ("para fluoro fentanilo", "4-fluorofentanyl"),
    ("xilazina", "xylazine"), ("metadona", "methadone"), ("α-metilfentanilo", "alpha-methylfentanyl"),
])
def test_spelling_key_joins_spanish_and_english_spellings(a, b):
    assert nm.spelling_key(a) == nm.spelling_key(b)


def test_spelling_keys_of_different_registry_entries_never_collide():
    reg = registry()
    assert [k for k, v in reg.by_spelling.items() if v is None] == []
    assert len({id(v) for v in reg.by_spelling.values()}) == len(reg.substances)


@pytest.mark.parametrize(("a", "b", "limit", "want"), [
    ("fentanil", "fentanil", 1, 0), ("fentanil", "fentnil", 1, 1), ("fentanil", "fetnanil", 1, 1),
    ("fentanil", "sufentanil", 1, 2), ("carfentanil", "fentanil", 2, 3), ("abc", "xyz", 1, 2),
])
def test_edit_distance_counts_a_swap_once_and_stops_past_the_limit(a, b, limit, want):
    assert edit_distance(a, b, limit) == want


def test_split_parts_on_every_way_people_join_substances():
    assert nm.split_parts("Heroína cortada con fentanilo y xilazina") == [
        "heroina", "fentanilo", "xilazina"]
    assert nm.split_parts("cocaína HCl 80 % + fentanilo/ xilacina (trazas)") == [
        "cocaina hcl", "fentanilo", "xilacina", "trazas"]
    assert nm.split_parts("fentanyl laced with xylazine") == ["fentanyl", "xylazine"]
    # a strength's slash and a name's hyphens and digits are not separators
    assert nm.split_parts("Fentanilo 0,05 mg/ml x 10 ml") == ["fentanilo"]
    assert nm.split_parts("4-ANPP; U-47700") == ["4-anpp", "u-47700"]


@pytest.mark.parametrize(("text", "want"), [
    ("FENTANILO", "fentanyl"),
    ("Fentanyl HCl 2%", "fentanyl"),
    ("fentanilo citrato 50 mcg/ml ampolla", "fentanyl"),
    ("presunto fentanilo (prueba de campo)", "fentanyl"),
    ("parafluorofentanilo", "para-fluorofentanyl"),
    ("4 fluoro fentanilo", "para-fluorofentanyl"),
    ("p-FF", "para-fluorofentanyl"),  # the lab and street abbreviation, hyphenated
    ("4-FF en polvo", "para-fluorofentanyl"),
    ("o-FF", "ortho-fluorofentanyl"),
    ("fentanillo", "fentanyl"),  # one typo
    ("carfentanyl", "carfentanil"),
    ("metamfetamina", "methamphetamine"),
    ("Ultiva 5 mg", "remifentanil"),
    ("isotonitaceno", "isotonitazene"),
])
def test_one_name_with_its_salt_strength_form_qualifier_or_typo(text, want):
    hit = registry().lookup_name(text)
    assert hit is not None and hit.id == want


@pytest.mark.parametrize("text", [
    "análogo de fentanilo", "fentanyl-like", "sustancia desconocida", "polvo blanco", "pink cocaine",
    "metanol", "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1",
])
def test_what_is_not_one_registry_name_is_not_forced_onto_one(text):
    assert registry().lookup_name(text) is None


def test_a_short_name_is_never_a_typo_of_another():
    # "heroina" is one letter from nothing else; "coca" (4 letters) is too short to correct
    assert registry().lookup_name("cocaa") is None
    assert nm.typo_limit("abcde") == 0 and nm.typo_limit("abcdef") == 1


def test_a_mixture_keys_its_most_serious_component_and_lists_them_all():
    res = resolve(name="heroína cortada con fentanilo y xilazina")
    assert res.substance.id == "fentanyl"
    assert [c["registry_id"] for c in res.components] == ["heroin", "fentanyl", "xylazine"]
    assert any("mixture of 3" in n for n in res.notes)
    res = resolve(name="polvo blanco: cocaína HCl + trazas de carfentanilo")
    assert res.substance.id == "carfentanil"
    # a run of words is read longest first: acetylfentanyl, not fentanyl
    res = resolve(name="polvo beige con acetil fentanilo")
    assert res.substance.id == "acetylfentanyl"
    res = resolve(name="Fentanyl and 4-ANPP detected")
    assert {c["registry_id"] for c in res.components} == {"fentanyl", "4-anpp"}


def test_an_unlisted_name_of_a_more_serious_family_keys_nothing_and_asks_for_review():
    res = resolve(name="heroína + o-metilfentanilo")
    assert res.substance is None and res.inchikey is None
    assert res.family_hint == "fentanyl" and res.name == "o-metilfentanilo"
    assert any("expert review" in n for n in res.notes)
    # an unlisted name of a lesser family does not hide the opioid
    res = resolve(name="fentanilo con levamisol")
    assert res.substance.id == "fentanyl" and res.family_hint is None


def test_a_street_name_stays_a_note_and_positive_para_is_not_a_position():
    res = resolve(name="china white")
    assert res.substance is None and any("street name" in n for n in res.notes)
    res = resolve(name="positivo para fentanilo")
    assert res.substance.id == "fentanyl"


def test_a_structure_disagrees_with_a_reported_mixture_only_when_it_is_none_of_its_parts():
    fentanyl = registry().by_key_id["fentanyl"].canonical_smiles
    assert resolve(name="heroína con fentanilo", smiles=fentanyl).mismatch is None
    morphine = registry().by_key_id["morphine"].canonical_smiles
    assert "structure is morphine" in resolve(name="heroína con fentanilo", smiles=morphine).mismatch


def test_classify_reads_a_reported_mixture_and_an_unlisted_name():
    out = classify("heroína cortada con fentanilo y xilazina")
    assert out.error is None and out.family == "fentanyl"
    assert {c["name"] for c in out.components} >= {"heroin", "fentanyl", "xylazine"}
    out = classify("orto-metilfentanilo")
    assert out.error and "expert review" in out.error and "no está en el registro" in out.error_es


DATA = Path(__file__).parent / "data"


def _score(path: Path) -> tuple[int, int, int, list]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    right_parts = right_family = 0
    wrong = []
    for row in rows:
        res = resolve(name=row["text"])
        parts = {c["registry_id"] for c in res.components if c["registry_id"]}
        parts = parts or ({res.substance.id} if res.substance else set())
        family = family_of(res.substance.category) if res.substance else None
        ok_parts = parts == set(row["components"])
        ok_family = family == row["key_family"] or (row["hint"] is not None
                                                    and res.family_hint == row["hint"])
        right_parts += ok_parts
        right_family += ok_family
        if not (ok_parts and ok_family):
            wrong.append(row["text"])
    return len(rows), right_parts, right_family, wrong


@pytest.mark.parametrize(("name", "lines"), [
    ("ews_reported_names_eval.jsonl", 120), ("ews_reported_names_eval2.jsonl", 100)])
def test_reported_names_written_elsewhere(name, lines):
    """Reported names written by helpers that read only the registry's data, never this code.
    First-run figures (before the changes they prompted) are in docs/ews.md; this keeps a
    floor, not the tuned figure."""
    n, right_parts, right_family, wrong = _score(DATA / name)
    assert n == lines
    assert right_family / n >= 0.85, wrong
    assert right_parts / n >= 0.80, wrong


# -- systematic (IUPAC) names, in either language and any bracket style or order ---------------

@pytest.mark.parametrize(("text", "expected"), [
    ("N-fenil-N-[1-(2-feniletil)piperidin-4-il]propanamida", "fentanyl"),
    ("N-(1-phenethylpiperidin-4-yl)-N-phenylpropanamide", "fentanyl"),
    ("N-phenyl-N-[1-(2-phenylethyl)-4-piperidinyl]propanamide", "fentanyl"),
    ("N-(4-fluorofenil)-N-[1-(2-feniletil)piperidin-4-il]propanamida clorhidrato",
     "para-fluorofentanyl"),
    ("N-(2-fluorophenyl)-N-[1-(2-phenylethyl)piperidin-4-yl]propanamide", "ortho-fluorofentanyl"),
    ("2-metil-N-fenil-N-[1-(2-feniletil)piperidin-4-il]propanamida", "isobutyrfentanyl"),
    ("1-(2-feniletil)piperidin-4-ona", "npp"),
    ("N-fenil-1-(2-feniletil)piperidin-4-amina", "4-anpp"),
    ("methyl 1-(2-phenylethyl)-4-(N-phenylpropanamido)piperidine-4-carboxylate", "carfentanil"),
    ("N,N-dietil-2-[5-nitro-2-[[4-(propan-2-iloxi)fenil]metil]-1H-bencimidazol-1-il]etan-1-amina",
     "isotonitazene"),
    ("N,N-diethyl-2-[2-[(4-ethoxyphenyl)methyl]-5-nitrobenzimidazol-1-yl]ethanamine",
     "etonitazene"),
])
def test_a_systematic_name_in_any_spelling_names_its_entry(text, expected):
    res = resolve(name=text)
    assert res.substance is not None and res.substance.id == expected, res.as_dict()
    assert not res.components or all(c["registry_id"] for c in res.components)


def test_an_unlisted_systematic_name_is_kept_whole_with_its_family():
    # o-methylfentanyl: same morphemes and locants as isobutyrfentanyl, methyl on the ring.
    res = resolve(name="N-(2-methylphenyl)-N-[1-(2-phenylethyl)piperidin-4-yl]propanamide")
    assert res.substance is None and res.family_hint == "fentanyl"
    assert [c["reported"] for c in res.components] == [
        "N-(2-methylphenyl)-N-[1-(2-phenylethyl)piperidin-4-yl]propanamide"]
    nit = resolve(name="N,N-dietil-2-[2-[(4-clorofenil)metil]-5-nitro-1H-bencimidazol-1-il]"
                       "propan-1-amina")
    assert nit.substance is None and nit.family_hint == "nitazene"


def test_a_common_name_with_its_systematic_name_in_parentheses_is_one_substance():
    res = resolve(name="Carfentanil (methyl 1-(2-phenylethyl)-4-(N-phenylpropanamido)"
                       "piperidine-4-carboxylate)")
    assert res.substance is not None and res.substance.id == "carfentanil"
    assert {c["registry_id"] for c in res.components} == {"carfentanil"}


def test_mixtures_and_short_names_are_not_read_as_systematic_names():
    assert not nm.looks_like_iupac("metil fentanilo, acetil fentanilo y 4-ANPP")
    assert not nm.looks_like_iupac("4-fluoroisobutirfentanilo")
    assert not nm.looks_like_iupac("N-pirrolidino etonitaceno")
    ids = [c["registry_id"] for c in resolve(name="heroína + fentanilo + xilacina").components]
    assert ids == ["heroin", "fentanyl", "xylazine"]
