"""Official records as intake extensions: special prescription forms and periodic balances,
each with the detector it feeds (a positive and a look-alike per rule)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.ingest.service import import_directory
from centinela.ledger.balances import balance_only_establishments, reconcile
from centinela.ledger.forms import FormBook, split_number
from centinela.ledger.models import PeriodicBalance
from centinela.ledger.records import Rejection
from centinela.ledger.summary import format_summary, national_summary
from centinela.registry.models import PrescriptionFormBlock
from tests.ingest_support import (
    ESTABLISHMENTS,
    PRODUCTS,
    PROFESSIONALS,
    movement,
    write_csv,
)

NOW = dt.datetime(2025, 6, 30, 12)
PROS = [*PROFESSIONALS,
        {"professional_id": "CMP-054321", "role": "prescriber", "full_name": "Jorge Rojas",
         "specialty": "", "establishment_id": "", "ubigeo": "150101",
         "opioid_certified_on": "", "certificate_id": ""}]
FORM_FIELDS = ["series", "first_number", "last_number", "prescriber_id", "issued_on", "issuer"]
BAL_FIELDS = ["establishment_id", "product_code", "period_start", "period_end", "opening_units",
              "receipts_units", "issues_units", "closing_units"]


def _registry(folder) -> None:
    write_csv(folder, "establishments", ESTABLISHMENTS)
    write_csv(folder, "professionals", PROS)
    write_csv(folder, "products", PRODUCTS)


def _dispense(eid, day, patient, form, prescriber="CMP-012345", est="EST-FAR", lot=""):
    return movement(eid, "dispense", f"2025-{day}T10:00:00-05:00", est, "2",
                    product_code="EE-00002", prescription_id=form, prescriber_id=prescriber,
                    patient_id=patient, lot=lot)


def _alerts(session, detector) -> dict[str, Alert]:
    return {a.subject_id: a for a in session.scalars(select(Alert).where(
        Alert.detector == detector))}


def test_form_numbers_split_into_series_and_number():
    assert split_number("RE-2025-000123") == ("RE-2025-", 123)
    assert split_number("000123") == ("", 123)
    assert split_number("RX-ABC") is None


def test_form_blocks_import_with_reasons_and_idempotently(engine, session, data_dir):
    _registry(data_dir)
    write_csv(data_dir, "prescription_forms", [
        {"series": "RE-", "first_number": "100", "last_number": "199",
         "prescriber_id": "CMP-012345", "issued_on": "2025-01-10", "issuer": "CMP Lima"},
        {"series": "RE-", "first_number": "300", "last_number": "200",
         "prescriber_id": "CMP-012345", "issued_on": "2025-01-10", "issuer": ""},
        {"series": "RE-", "first_number": "400", "last_number": "499",
         "prescriber_id": "CQFP-01234", "issued_on": "2025-01-10", "issuer": ""},
    ], fields=FORM_FIELDS)
    report = import_directory(engine, data_dir, realtime=False)
    forms = next(f for f in report.files if f.record_type == "prescription_forms")
    assert (forms.accepted, forms.rejected) == (1, 2)
    reasons = [r.reason for r in session.scalars(select(Rejection))]
    assert any("at most" in r for r in reasons) and any("is not a prescriber" in r
                                                         for r in reasons)
    again = import_directory(engine, data_dir, realtime=False)
    forms = next(f for f in again.files if f.record_type == "prescription_forms")
    assert (forms.accepted, forms.duplicates) == (0, 1)
    book = FormBook(list(session.scalars(select(PrescriptionFormBlock))))
    assert book.find("RE-000150").prescriber_id == "CMP-012345" and book.find("RE-000250") is None


def test_misused_forms_are_found_and_ordinary_use_is_not(engine, session, data_dir):
    _registry(data_dir)
    write_csv(data_dir, "prescription_forms", [
        {"series": "RE-", "first_number": "100", "last_number": "199",
         "prescriber_id": "CMP-012345", "issued_on": "2025-01-10", "issuer": "CMP"},
        {"series": "RE-", "first_number": "200", "last_number": "299",
         "prescriber_id": "CMP-054321", "issued_on": "2025-01-10", "issuer": "CMP"},
    ], fields=FORM_FIELDS)
    write_csv(data_dir, "movements", [
        # look-alike: one form, one patient, one pharmacy, two lots in two rows
        _dispense("D1", "02-01", "DNI:45678912", "RE-000101", lot="L1"),
        _dispense("D2", "02-01", "DNI:45678912", "RE-000101", lot="L2"),
        # look-alike: the other prescriber's own form
        _dispense("D3", "02-02", "DNI:11112222", "RE-000201", prescriber="CMP-054321"),
        # positives, all naming CMP-012345
        _dispense("D4", "02-03", "DNI:45678912", "RE-000102"),
        _dispense("D5", "03-03", "DNI:87654321", "RE-000102"),  # reused for another patient
        _dispense("D6", "02-05", "DNI:45678912", "RE-000250"),  # another prescriber's form
        _dispense("D7", "02-06", "DNI:45678912", "RE-000900"),  # never issued
        _dispense("D8", "01-05", "DNI:45678912", "RE-000103"),  # before its block was issued
    ])
    import_directory(engine, data_dir, realtime=False)
    run_all(session, now=NOW)
    alerts = _alerts(session, "prescription_form_misuse")
    assert set(alerts) == {"CMP-012345"}
    ev = alerts["CMP-012345"].evidence
    assert ev["reasons"] == {"reused": 1, "other_prescriber": 1, "not_issued": 1,
                             "before_issue": 1}
    assert set(ev["forms"]) == {"RE-000102", "RE-000250", "RE-000900", "RE-000103"}


def test_without_registered_forms_only_a_number_given_to_two_patients_in_one_place_counts(
        engine, session, data_dir):
    _registry(data_dir)
    write_csv(data_dir, "movements", [
        # look-alike: local numbering, the same number at two pharmacies
        _dispense("D1", "02-01", "DNI:45678912", "0001", est="EST-FAR"),
        _dispense("D2", "02-01", "DNI:87654321", "0001", est="EST-HOS"),
        # positive: the same prescriber's number for two patients at one pharmacy
        _dispense("D3", "02-02", "DNI:11112222", "RX-77", prescriber="CMP-054321"),
        _dispense("D4", "02-09", "DNI:33334444", "RX-77", prescriber="CMP-054321"),
    ])
    import_directory(engine, data_dir, realtime=False)
    run_all(session, now=NOW)
    assert set(_alerts(session, "prescription_form_misuse")) == {"CMP-054321"}


def test_forms_of_many_prescribers_misused_at_one_outlet_are_the_outlets_alert(
        engine, session, data_dir):
    """A botica recycles the form numbers of three real doctors (each number filled for two
    patients there): one alert on the botica, the doctors' alerts kept low under it. Look-alike:
    the same misuse of a single doctor's forms at another outlet stays on the doctor."""
    pros = [*PROS, *({"professional_id": f"CMP-0600{i}", "role": "prescriber",
                      "full_name": f"Médico {i}", "specialty": "", "establishment_id": "",
                      "ubigeo": "150101", "opioid_certified_on": "", "certificate_id": ""}
                     for i in range(3))]
    write_csv(data_dir, "establishments", ESTABLISHMENTS)
    write_csv(data_dir, "professionals", pros)
    write_csv(data_dir, "products", PRODUCTS)
    moves = []
    for i in range(3):
        for k, dni in enumerate(("DNI:45678912", "DNI:87654321")):
            moves.append(_dispense(f"F{i}{k}", f"03-0{2 + i + 3 * k}", dni, f"RX-9{i}",
                                   prescriber=f"CMP-0600{i}", est="EST-FAR"))
    moves += [_dispense("H1", "03-02", "DNI:11112222", "RX-55", prescriber="CMP-054321",
                        est="EST-HOS"),
              _dispense("H2", "03-09", "DNI:33334444", "RX-55", prescriber="CMP-054321",
                        est="EST-HOS")]
    write_csv(data_dir, "movements", moves)
    import_directory(engine, data_dir, realtime=False)
    run_all(session, now=NOW)
    alerts = _alerts(session, "prescription_form_misuse")
    outlet = alerts["EST-FAR"]
    assert outlet.subject_kind == "establishment" and outlet.severity in ("high", "critical")
    assert outlet.evidence["prescribers"] == ["CMP-06000", "CMP-06001", "CMP-06002"]
    for i in range(3):
        doc = alerts[f"CMP-0600{i}"]
        assert doc.severity == "low" and doc.evidence["grouped_under_establishment"] == "EST-FAR"
    assert alerts["CMP-054321"].severity != "low"


def _balance(est, product, start, end, opening, receipts, issues, closing) -> dict:
    return {"establishment_id": est, "product_code": product, "period_start": start,
            "period_end": end, "opening_units": opening, "receipts_units": receipts,
            "issues_units": issues, "closing_units": closing}


def test_balances_reconcile_with_their_arithmetic_carry_over_and_the_ledger(engine, session,
                                                                            data_dir):
    _registry(data_dir)
    write_csv(data_dir, "balances", [
        # EST-FAR reports balances only: January adds up, February loses 6 of 5 handled
        _balance("EST-FAR", "EE-00002", "2025-01-01", "2025-01-31", "10", "20", "15", "15"),
        _balance("EST-FAR", "EE-00002", "2025-02-01", "2025-02-28", "15", "0", "5", "4"),
        # EST-HOS: balances beside its movements; ampoule rounding is not a finding …
        _balance("EST-HOS", "EE-00001", "2025-03-01", "2025-03-31", "0", "100", "40.4", "59.6"),
        # … a book that declares 10 issued while the ledger shows 40 is
        _balance("EST-HOS", "EE-00003", "2025-03-01", "2025-03-31", "0", "50", "10", "40"),
        # bad rows are rejected with their reason
        _balance("EST-HOS", "EE-00003", "2025-04-30", "2025-04-01", "0", "0", "0", "0"),
        _balance("EST-NOPE", "EE-00003", "2025-04-01", "2025-04-30", "0", "0", "0", "0"),
        _balance("EST-HOS", "EE-00001", "2025-04-01", "2025-04-30", "0", "0", "-1", "0"),
    ], fields=BAL_FIELDS)
    moves = [movement("R1", "receipt", "2025-03-02T08:00:00-05:00", "EST-HOS", "100",
                      counterparty_id="EST-DIS"),
             movement("R2", "receipt", "2025-03-02T08:00:00-05:00", "EST-HOS", "50",
                      product_code="EE-00003", counterparty_id="EST-DIS")]
    for i in range(40):
        moves.append(movement(f"A{i}", "administer", f"2025-03-{3 + i % 25:02d}T09:00:00-05:00",
                              "EST-HOS", "1", patient_id=f"DNI:{10000000 + i}"))
        moves.append(movement(f"B{i}", "administer", f"2025-03-{3 + i % 25:02d}T09:00:00-05:00",
                              "EST-HOS", "1", product_code="EE-00003",
                              patient_id=f"DNI:{10000000 + i}"))
    write_csv(data_dir, "movements", moves)
    report = import_directory(engine, data_dir, realtime=False)
    bal = next(f for f in report.files if f.record_type == "balances")
    assert (bal.accepted, bal.rejected) == (4, 3)
    assert len(session.scalars(select(PeriodicBalance)).all()) == 4
    assert balance_only_establishments(session) == {"EST-FAR"}
    summary = national_summary(session)
    assert summary["balances"]["balance_only_establishments"] == 1
    fent = summary["balances"]["balance_only"]["fentanyl"]
    assert fent["issued_units"] == 20 and fent["closing_units"] == 4  # EE-00002 patches
    assert summary["stock_on_hand"]["by_substance"]["fentanyl"]["from_balances_units"] == 4
    assert "balance-only" in format_summary(summary)
    checks = {(c.establishment_id, c.product_code, c.period_end.month): c
              for c in reconcile(session)}
    assert checks[("EST-FAR", "EE-00002", 2)].arithmetic_gap == 6
    assert checks[("EST-FAR", "EE-00002", 2)].carry_gap == 0
    assert checks[("EST-HOS", "EE-00003", 3)].issues_gap == -30
    run_all(session, now=NOW)
    alerts = _alerts(session, "balance_gap")
    assert set(alerts) == {"EST-FAR", "EST-HOS"}
    assert alerts["EST-HOS"].evidence["product_code"] == "EE-00003"
    assert alerts["EST-FAR"].evidence["units_unexplained"] == 6


def _months(session) -> list[tuple[dt.date, dt.date]]:
    from sqlalchemy import func

    from centinela.ledger.records import Movement

    lo, hi = session.execute(select(func.min(Movement.occurred_at),
                                    func.max(Movement.occurred_at))).one()
    out, d = [], dt.date(lo.year, lo.month, 1)
    while d <= hi.date():
        nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
        out.append((d, nxt - dt.timedelta(days=1)))
        d = nxt
    return out


def test_a_national_sample_exported_to_balances_and_forms_and_back_raises_nothing(
        engine, session, data_dir, tmp_path):
    """Round trip: the balances and form blocks that the ledger implies reconcile with it;
    one tampered balance and one reused form are then found."""
    import pytest

    from centinela.ledger.balances import balances_from_ledger
    from centinela.ledger.forms import forms_from_ledger

    generate = pytest.importorskip("centinela.generate").generate
    generate(data_dir, seed=7, scale=0.01)
    import_directory(engine, data_dir, realtime=False)
    balances = balances_from_ledger(session, _months(session))
    forms = forms_from_ledger(session)
    assert len(balances) > 100 and len(forms) > 50
    extra = tmp_path / "extra"
    extra.mkdir()
    write_csv(extra, "balances", balances, fields=BAL_FIELDS)
    write_csv(extra, "prescription_forms", forms, fields=FORM_FIELDS)
    report = import_directory(engine, extra, realtime=False)
    assert report.total("rejected") == 0, report.as_text()
    assert all(c.units_unexplained < 0.01 for c in reconcile(session))
    run_all(session, only=["balance_gap", "prescription_form_misuse"])
    assert session.scalars(select(Alert)).all() == []

    # Tamper: one balance declares a fifth of its issues fewer (well past the 2 % tolerance);
    # one form is used again elsewhere.
    victim = max(balances, key=lambda b: b["issues_units"])
    hidden = round(victim["issues_units"] / 5)
    changed = dict(victim, issues_units=victim["issues_units"] - hidden,
                   closing_units=victim["closing_units"] + hidden)
    session.execute(PeriodicBalance.__table__.delete().where(
        PeriodicBalance.establishment_id == victim["establishment_id"],
        PeriodicBalance.product_code == victim["product_code"],
        PeriodicBalance.period_end == dt.date.fromisoformat(victim["period_end"])))
    session.commit()
    block = forms[0]
    number = f"{block['series']}{block['first_number']:08d}"
    prod = session.scalars(select(PeriodicBalance.product_code)).first()
    est = victim["establishment_id"]
    again = tmp_path / "again"
    again.mkdir()
    write_csv(again, "balances", [changed], fields=BAL_FIELDS)
    write_csv(again, "movements", [movement(
        "REUSE-1", "dispense", "2025-12-20T10:00:00-05:00", est, "1", product_code=prod,
        prescription_id=number, prescriber_id=block["prescriber_id"],
        patient_id="DNI:99887766")])
    rep = import_directory(engine, again, realtime=False)
    assert rep.total("rejected") == 0, rep.as_text()
    run_all(session, only=["balance_gap", "prescription_form_misuse"])
    assert set(_alerts(session, "balance_gap")) == {est}
    misuse = _alerts(session, "prescription_form_misuse")
    assert set(misuse) == {block["prescriber_id"]}
    assert misuse[block["prescriber_id"]].evidence["forms"] == [number]
