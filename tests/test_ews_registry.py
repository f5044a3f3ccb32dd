"""Substance registry: every shipped structure parses and matches its recorded formula."""

import json
from importlib import resources

import pytest
from rdkit import Chem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

from centinela.ews.registry import CATEGORIES, parse_query, registry, resolve
from centinela.lib.chem import StructureError, standardize

RAW = json.loads((resources.files("centinela.ews") / "data" / "substances.json").read_text("utf-8"))


@pytest.mark.parametrize("item", RAW["substances"], ids=lambda i: i["id"])
def test_every_smiles_parses_and_matches_its_formula(item):
    mol = Chem.MolFromSmiles(item["smiles"])
    assert mol is not None, item["id"]
    assert CalcMolFormula(mol) == item["formula"], item["id"]
    assert item["category"] in CATEGORIES


# Published InChIKeys (PubChem, as shown on Wikipedia / the WHO ECDD and EMCDDA reports) of
# entries whose stereochemistry or substitution pattern is easy to get wrong in SMILES.
PUBLISHED_INCHIKEYS = {
    "fentanyl": "PJMPHNIQZUBGLI-UHFFFAOYSA-N",
    "carfentanil": "YDSDEBIZUNNPOB-UHFFFAOYSA-N",
    "sufentanil": "GGCSSNBKKAUURC-UHFFFAOYSA-N",
    "alfentanil": "IDBPHNDTYPBSNI-UHFFFAOYSA-N",
    "remifentanil": "ZTVQQQVZCWLTDF-UHFFFAOYSA-N",
    "acetylfentanyl": "FYIUUQUPOKIKNI-UHFFFAOYSA-N",
    "furanylfentanyl": "FZJVHWISUGFFQV-UHFFFAOYSA-N",
    "4-anpp": "ZCMDXDQUYIWEKB-UHFFFAOYSA-N",
    "isotonitazene": "OIOQREYBGDAYGT-UHFFFAOYSA-N",
    "protonitazene": "SJHUJFHOXYDSJY-UHFFFAOYSA-N",
    "morphine": "BQJCRHHNABKAKU-KBQPJGBKSA-N",
    "heroin": "GVGLGOZIDCSQPN-PVHGPHFFSA-N",
    "codeine": "OROGSEYTTFOCAN-DNJOTXNNSA-N",
    "oxycodone": "BRUQQQPBMZOVGD-XFKAJCMBSA-N",
    "tramadol": "TVYLLZQTGLZFBW-ZBFHGGJFSA-N",  # (1R,2R); the racemate's listed enantiomer
    "cocaine": "ZPUCINDJVBIVPJ-LJISPDSOSA-N",
    "methamphetamine": "MYWUZJCMWCOHBA-VIFPVBQESA-N",
    "mannitol": "FBPFZTCFMRRESA-KVTDHHQDSA-N",
}


@pytest.mark.parametrize("sid,key", sorted(PUBLISHED_INCHIKEYS.items()))
def test_registry_structures_have_their_published_inchikeys(sid, key):
    assert {s.id: s for s in registry().substances}[sid].inchikey == key


def test_inchikeys_are_unique_and_names_do_not_collide():
    reg = registry()
    keys = [s.inchikey for s in reg.substances]
    assert len(keys) == len(set(keys))
    names = {}
    for s in reg.substances:
        for n in (s.name, s.name_es, *s.synonyms):
            owner = names.setdefault(n.lower(), s.id)
            assert owner == s.id, f"{n} names both {owner} and {s.id}"


def test_issue_listed_substances_are_all_present():
    wanted = {
        "fentanyl", "remifentanil", "sufentanil", "alfentanil", "carfentanil", "acetylfentanyl",
        "furanylfentanyl", "acrylfentanyl", "butyrfentanyl", "valerylfentanyl",
        "cyclopropylfentanyl", "ocfentanil", "3-methylfentanyl", "alpha-methylfentanyl",
        "para-fluorofentanyl", "ortho-fluorofentanyl", "beta-hydroxyfentanyl", "thiofentanyl",
        "methoxyacetylfentanyl", "tetrahydrofuranylfentanyl", "4-anpp", "norfentanyl", "npp",
        "4-piperidone", "isotonitazene", "metonitazene", "protonitazene", "etonitazene",
        "etonitazepyne", "n-desethyl-isotonitazene", "brorphine", "u-47700", "morphine",
        "methadone", "oxycodone", "tramadol", "heroin",
    }
    assert wanted <= {s.id for s in registry().substances}
    assert sum(s.category == "non_opioid" for s in registry().substances) >= 3


def test_known_inchikey_of_fentanyl():
    assert registry().lookup_name("fentanilo").inchikey == "PJMPHNIQZUBGLI-UHFFFAOYSA-N"


def test_salt_is_stripped_and_structure_canonicalized():
    citrate = "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1.OC(=O)CC(O)(C(=O)O)CC(=O)O"
    hcl = "Cl.O=C(CC)N(C1CCN(CCc2ccccc2)CC1)c1ccccc1"
    a, b = standardize(citrate), standardize(hcl)
    assert a.salt_stripped and b.salt_stripped
    assert a.inchikey == b.inchikey == "PJMPHNIQZUBGLI-UHFFFAOYSA-N"
    assert a.smiles == b.smiles == "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
    protonated = standardize("CCC(=O)N(c1ccccc1)C1CC[NH+](CCc2ccccc2)CC1")
    assert protonated.inchikey == a.inchikey
    # the nitro group of a nitazene stays as it is
    assert standardize(registry().lookup_name("isotonitazene").smiles).formula == "C23H30N4O3"


def test_names_synonyms_and_street_names():
    assert registry().lookup_name("Citrato de Fentanilo").id == "fentanyl"
    assert registry().lookup_name("α-metilfentanilo").id == "alpha-methylfentanyl"
    assert registry().lookup_name("N-pirrolidino etonitaceno").id == "etonitazepyne"
    res = resolve(name="china white")
    assert res.substance is None and "3-methylfentanyl" in res.notes[0]


def test_name_that_disagrees_with_structure_is_flagged():
    acetyl = "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
    res = resolve(name="fentanilo", smiles=acetyl)
    assert res.substance.id == "acetylfentanyl"
    assert res.mismatch and "fentanyl" in res.mismatch and "acetylfentanyl" in res.mismatch
    assert resolve(name="acetil fentanilo", smiles=acetyl).mismatch is None
    novel = resolve(name="heroína", smiles="CCC(=O)N(c1ccc(F)cc1)C1CCN(CCc2cccs2)CC1")
    assert "unlisted structure" in novel.mismatch


def test_bad_smiles_is_a_clear_error():
    with pytest.raises(StructureError, match="cannot parse"):
        standardize("C1CC(")
    assert resolve(smiles="C1CC(").error.startswith("RDKit cannot parse")
    assert parse_query("CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1").substance.id == "fentanyl"
