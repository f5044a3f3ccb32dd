"""The patient history's domain rules (``centinela.ledger.patients``): the document check, the
identity cues and the warnings the lookup page and the API both show."""

from __future__ import annotations

import datetime as dt

import pytest

from centinela.ledger.patients import (
    LookupRefused,
    clinical_report,
    history_warnings,
    patient_identity,
    valid_document,
)
from tests.detect_factory import MORPH_TAB, base_products, est, mv

NOW = dt.datetime(2025, 6, 30, 12)


def test_valid_document_per_type_without_echoing_the_number():
    assert valid_document("DNI", "44.556-677") == "44556677"
    assert valid_document("PAS", "ab 12345") == "AB12345"
    for kind, number in (("DNI", "1234567"), ("CE", "12345678"), ("PAS", "ABCDEFG")):
        with pytest.raises(LookupRefused) as err:
            valid_document(kind, number)
        assert number not in str(err.value)


def test_identity_cues_and_warnings(session, monkeypatch):
    monkeypatch.setenv("CENTINELA_MME_THRESHOLD", "50")
    from centinela.config import get_settings

    get_settings.cache_clear()
    base_products(session)
    est(session, "P1")
    assert patient_identity(session, "PSN:nobody", NOW) is None
    for i, (sex, year) in enumerate((("F", 1980), ("F", 1980), ("M", 1980))):
        mv(session, "dispense", "P1", MORPH_TAB, 30, NOW - dt.timedelta(days=10 * i + 1),
           patient_id="PSN:p1", prescriber_id=f"CMP-{i}", prescription_id=f"RX-{i}",
           days_supply=10, patient_sex=sex, patient_birth_year=year, patient_ubigeo="150101")
    session.commit()
    who = patient_identity(session, "PSN:p1", NOW)
    assert (who.sex, who.age, who.district, who.varies) == ("F", 45, "150101", True)
    assert who.last_seen == NOW - dt.timedelta(days=1)
    report = clinical_report(session, "PSN:p1", NOW)
    warnings = history_warnings(report)
    # 30 tablets of 30 mg over 10 days: 90 MME/day now, over the threshold of 50.
    assert {"lookup.warn_high_mme", "lookup.warn_days_over", "lookup.warn_naloxone"} <= set(
        warnings)
    assert "lookup.warn_multiple_providers" not in warnings  # 3 prescribers < 5
