"""Which reason a movement gets when it breaks several rules: a value longer than its column is
reported first (as when every value's length was checked before anything else)."""

from __future__ import annotations

import pytest

from centinela.ingest.fields import MOVEMENTS
from centinela.ingest.validate import Known, make_movement_checker
from centinela.ingest.values import Invalid

GOOD = {"event_id": "A-1", "event_type": "administer", "occurred_at": "2025-03-14T09:30:00",
        "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": "0.5",
        "prescriber_id": "CMP-1", "patient_id": "DNI:40000001", "lot": "L1"}
LONG_EST, LONG_PRO = "EST-" + "9" * 41, "CMP-" + "9" * 41


def _reason(copy_text: bool, **change: str) -> tuple[str | None, str]:
    # Ids longer than their column may even be registered: they are still too long here.
    known = Known({"EST-HOS", "EST-DIS", LONG_EST}, {"CMP-1", LONG_PRO}, {"EE-00001"})
    check = make_movement_checker(known, 1, pseudonym_key="k" * 32, copy_text=copy_text)
    rec = GOOD | change
    try:
        check(tuple(rec.get(f, "") for f in MOVEMENTS.fields))
    except Invalid as exc:
        return exc.field, exc.reason
    return None, ""


CASES = [
    # (change, field reported, words of the reason)
    ({"lot": "L" * 61, "establishment_id": "EST-NONE"}, "lot", "longer than 60"),
    ({"establishment_id": LONG_EST}, "establishment_id", "longer than 40"),
    ({"establishment_id": "X" * 41, "event_type": "bogus"}, "establishment_id", "longer than 40"),
    ({"prescriber_id": LONG_PRO}, "prescriber_id", "longer than 40"),
    ({"witness_id": "W" * 41, "occurred_at": "yesterday"}, "witness_id", "longer than 40"),
    ({"serial": "S" * 81, "quantity": "-1"}, "serial", "longer than 80"),
    ({"event_id": "E" * 81, "lot": "L" * 61}, "event_id", "longer than 80"),
    ({"event_id": "", "lot": "L" * 61}, "event_id", "required"),
    ({"counterparty_id": "C" * 41}, "counterparty_id", "longer than 40"),
    ({"product_code": "P" * 41, "patient_id": "nonsense"}, "product_code", "longer than 40"),
    ({"gs1_scan": "0" * 301}, "gs1_scan", "longer than 300"),
    # No column limit on the raw value (43 characters): it is pseudonymized. A DNI of 50
    # digits, once accepted here, is no document: rejected since malformed ids split patients.
    ({"patient_id": "PAS:" + " - ".join("AB123456789012")}, None, ""),
    ({"patient_id": "DNI:" + "1" * 50}, "patient_id", "8 digits"),
    ({"establishment_id": "EST-NONE"}, "establishment_id", "unknown establishment"),
]


@pytest.mark.parametrize("copy_text", [False, True], ids=["tuple", "copy"])
@pytest.mark.parametrize(("change", "field", "words"), CASES)
def test_first_reason(copy_text, change, field, words):
    got_field, reason = _reason(copy_text, **change)
    assert got_field == field and words in reason
