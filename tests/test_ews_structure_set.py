"""The hand-written structure set (tests/data/ews_structures.csv): every entry must be right.

328 entries: registry substances, novel members of each opioid family, salts, mixtures,
isotopologues, N-oxides/quaternary salts, non-opioid look-alikes and garbage. Expectations were
written by hand from the chemistry (family) and the schedules (control), not from the classifier.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from centinela.ews.classify import classify

ROWS = list(csv.DictReader((Path(__file__).parent / "data" / "ews_structures.csv")
                           .open(encoding="utf-8")))
CONTROL = {"yes": True, "no": False, "review": None}


def test_the_set_is_large_and_varied():
    kinds = Counter(r["kind"] for r in ROWS)
    assert len(ROWS) >= 200
    for kind in ("registry", "novel", "salt", "mixture", "isotopologue", "derivative",
                 "lookalike", "garbage"):
        assert kinds[kind] >= 8, kind


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['kind']}:{r['name'][:40]}" for r in ROWS])
def test_expected_family_and_control(row):
    d = classify(row["smiles"]).as_dict()
    if row["expected_control"] == "error":
        assert d["error"] and d["error_es"], d
        # nothing identified, nothing asserted: never "not controlled" for an unusable item
        assert d["family"] == "none" and d["controlled"] is None
        return
    assert d["error"] is None, d["error"]
    assert d["family"] == row["expected_family"], (d["category"], d["reasons"], d["components"])
    assert d["controlled"] is CONTROL[row["expected_control"]], (d["control"], d["notes"])
    if d["controlled"]:
        assert d["control_source"]
    if row["kind"] == "isotopologue":
        assert d["parent"] and any("isotopically labelled" in n for n in d["notes"])
    if row["kind"] == "derivative":
        assert d["review"] and d["parent"]
    if row["kind"] in ("salt", "mixture"):
        assert len(d["components"]) >= 2


def test_no_false_positive_among_lookalikes():
    wrong = [r["name"] for r in ROWS if r["kind"] == "lookalike"
             and classify(r["smiles"]).as_dict()["family"] != "none"]
    assert wrong == []
