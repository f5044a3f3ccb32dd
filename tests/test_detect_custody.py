"""Chain-of-custody detectors: positive cases and legitimate look-alikes."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.ledger.records import Seizure
from tests.detect_factory import FENT_AMP, FENT_PATCH, MORPH_TAB, base_products, days, est, mv

T = dt.datetime(2025, 6, 2, 15)


def _alerts(session, detector):
    return session.query(Alert).filter_by(detector=detector).all()


def test_serial_consumed_twice_is_flagged_but_partial_use_plus_residue_is_not(session):
    base_products(session)
    est(session, "H1", "hospital")
    est(session, "P1")
    mv(session, "dispense", "P1", FENT_AMP, 1, T, serial="SN-CLONE", patient_id="PSN:pat1",
       prescription_id="R1", prescriber_id="CMP-1")
    mv(session, "administer", "H1", FENT_AMP, 1, days(T, 5), serial="SN-CLONE", patient_id="PSN:pat2")
    # Look-alike: half an ampoule administered and its residue wasted (one unit in total).
    mv(session, "administer", "H1", FENT_AMP, 0.5, T, serial="SN-OK", patient_id="PSN:pat3")
    mv(session, "waste", "H1", FENT_AMP, 0.5, T, serial="SN-OK", witness_id="CEP-2",
       professional_id="CEP-1")
    session.commit()
    run_all(session)
    alerts = _alerts(session, "serial_reuse")
    assert [a.subject_id for a in alerts] == ["SN-CLONE"]
    a = alerts[0]
    assert a.subject_kind == "serial"
    assert a.evidence["units_consumed"] == 2.0
    assert sorted(a.evidence["establishments"]) == ["H1", "P1"]
    assert a.evidence["event_count"] == 2


def test_one_nurse_behind_many_reused_serials_gets_one_alert_and_the_serials_sit_under_it(session):
    # CEP-9 records administrations of units already administered by colleagues (5 serials);
    # CEP-7 once (below the roll-up: the serial keeps its own grade).
    base_products(session)
    est(session, "H1", "hospital")
    for i in range(5):
        mv(session, "administer", "H1", FENT_AMP, 1, days(T, i), serial=f"SN-{i}",
           patient_id=f"PSN:a{i}", professional_id="CEP-1")
        mv(session, "administer", "H1", FENT_AMP, 1, days(T, i + 2), serial=f"SN-{i}",
           patient_id=f"PSN:b{i}", professional_id="CEP-9")
    mv(session, "administer", "H1", FENT_AMP, 1, days(T, 1), serial="SN-X",
       patient_id="PSN:c", professional_id="CEP-1")
    mv(session, "administer", "H1", FENT_AMP, 1, days(T, 3), serial="SN-X",
       patient_id="PSN:d", professional_id="CEP-7")
    session.commit()
    run_all(session)
    alerts = {(a.subject_kind, a.subject_id): a for a in _alerts(session, "serial_reuse")}
    assert set(alerts) == {("serial", f"SN-{i}") for i in range(5)} | {
        ("serial", "SN-X"), ("professional", "CEP-9")}
    nurse = alerts[("professional", "CEP-9")]
    assert nurse.evidence["serial_count"] == 5 and nurse.severity in ("high", "critical")
    assert nurse.evidence["serials"] == [f"SN-{i}" for i in range(5)]
    for i in range(5):
        a = alerts[("serial", f"SN-{i}")]
        assert a.severity == "low" and a.evidence["grouped_under_professional"] == ["CEP-9"]
        assert a.evidence["professionals"] == ["CEP-9"] and "CEP-9" in a.summary
    alone = alerts[("serial", "SN-X")]
    assert alone.severity != "low" and alone.evidence["professionals"] == ["CEP-7"]
    assert "grouped_under_professional" not in alone.evidence


def test_receiver_unauthorized_or_expired_is_flagged_but_valid_licence_is_not(session):
    base_products(session)
    est(session, "D1", "distributor")
    est(session, "BAD", authorized=False)
    est(session, "OLD", expires=dt.date(2025, 5, 1))
    est(session, "GOOD", expires=dt.date(2025, 12, 31))
    for i, e in enumerate(("BAD", "OLD", "GOOD")):
        mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, i), counterparty_id=e)
        mv(session, "receipt", e, FENT_AMP, 20, days(T, i), counterparty_id="D1")
    session.commit()
    run_all(session)
    alerts = {a.subject_id: a for a in _alerts(session, "unauthorized_receiver")}
    assert set(alerts) == {"BAD", "OLD"}
    assert alerts["OLD"].evidence["reason"] == "licencia vencida"
    assert alerts["BAD"].evidence["event_count"] == 2  # the shipment and the receipt
    assert "unauthorized_holder" in alerts["BAD"].topics
    assert "PNP-DIRANDRO" in alerts["BAD"].routed_to


def test_transfer_never_received_vs_received_and_in_transit(session):
    base_products(session)
    for e in ("D1", "P1", "P2", "P3"):
        est(session, e, "distributor" if e == "D1" else "pharmacy")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T, counterparty_id="P1", event_id="SHIP-LOST")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T, counterparty_id="P2", event_id="SHIP-OK")
    mv(session, "receipt", "P2", FENT_AMP, 50, days(T, 3), counterparty_id="D1")
    # Still in transit at 'now' (shipped 2 days before the last movement).
    mv(session, "transfer_out", "D1", FENT_AMP, 50, days(T, 28), counterparty_id="P3",
       event_id="SHIP-TRANSIT")
    mv(session, "dispense", "P2", FENT_AMP, 1, days(T, 30), patient_id="PSN:x1", prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    alerts = _alerts(session, "transfer_not_received")
    assert [(a.subject_kind, a.subject_id) for a in alerts] == [("shipment", "SHIP-LOST")]
    ev = alerts[0].evidence
    assert ev["units_missing"] == 50 and ev["receiver"] == "P1" and ev["receipt_days"] == 7


def test_a_receiver_behind_many_lost_shipments_gets_one_alert_over_them(session):
    # Four shipments to P1 (from two senders) never booked; P2 lost one: it keeps its grade.
    base_products(session)
    for e in ("D1", "D2", "P1", "P2"):
        est(session, e, "distributor" if e.startswith("D") else "pharmacy")
    for i in range(4):
        mv(session, "transfer_out", "D1" if i % 2 else "D2", FENT_AMP, 20, days(T, 5 * i),
           counterparty_id="P1", event_id=f"SHIP-{i}")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, 2), counterparty_id="P2",
       event_id="SHIP-P2")
    for e in ("P1", "P2"):
        mv(session, "dispense", e, FENT_AMP, 1, days(T, 45), patient_id="PSN:x1",
           prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    alerts = {(a.subject_kind, a.subject_id): a for a in _alerts(session, "transfer_not_received")}
    assert set(alerts) == {("shipment", f"SHIP-{i}") for i in range(4)} | {
        ("shipment", "SHIP-P2"), ("establishment", "P1")}
    p1 = alerts[("establishment", "P1")]
    assert p1.evidence["shipment_count"] == 4 and p1.evidence["senders"] == ["D1", "D2"]
    assert p1.evidence["units_missing"] == 80 and p1.severity in ("high", "critical")
    for i in range(4):
        a = alerts[("shipment", f"SHIP-{i}")]
        assert a.severity == "low" and a.evidence["grouped_under_establishment"] == "P1"
    assert alerts[("shipment", "SHIP-P2")].severity != "low"


def test_partial_receipt_flags_the_shortfall(session):
    base_products(session)
    for e in ("D1", "P1"):
        est(session, e)
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T, counterparty_id="P1", event_id="SHIP-PART")
    mv(session, "receipt", "P1", FENT_AMP, 30, days(T, 1), counterparty_id="D1")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 40), patient_id="PSN:x1", prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    (a,) = _alerts(session, "transfer_not_received")
    assert a.evidence["units_missing"] == 20 and a.evidence["units_received"] == 30


def test_transfer_matching_tolerates_split_late_packs_and_early_receipts(session):
    """Quirks: a delivery booked in two receipts days apart, units recorded as packs, the
    receiver's receipt booked before the sender's transfer_out; a lost 10-unit shipment among
    them is still the one flagged (the split parts of the next shipment are not credited to it)."""
    from centinela.registry.models import Product

    base_products(session)
    session.get(Product, FENT_AMP).units_per_pack = 50
    for e in ("D1", "P1"):
        est(session, e)
    mv(session, "transfer_out", "D1", FENT_AMP, 10, T, counterparty_id="P1", event_id="LOST")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, 5), counterparty_id="P1", event_id="SPLIT")
    mv(session, "receipt", "P1", FENT_AMP, 10, days(T, 5.1), counterparty_id="D1")
    mv(session, "receipt", "P1", FENT_AMP, 10, days(T, 6.1), counterparty_id="D1")
    mv(session, "transfer_out", "D1", FENT_AMP, 100, days(T, 20), counterparty_id="P1", event_id="PACKS")
    mv(session, "receipt", "P1", FENT_AMP, 2, days(T, 24), counterparty_id="D1")  # 2 packs of 50
    mv(session, "transfer_out", "D1", FENT_AMP, 30, days(T, 41), counterparty_id="P1", event_id="EARLY")
    mv(session, "receipt", "P1", FENT_AMP, 30, days(T, 40.5), counterparty_id="D1")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 60), patient_id="PSN:x1", prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    assert [a.subject_id for a in _alerts(session, "transfer_not_received")] == ["LOST"]


def test_seized_lot_is_traced_to_its_last_custodian(session):
    base_products(session)
    for e in ("IMP", "D1", "P1"):
        est(session, e)
    mv(session, "import", "IMP", FENT_AMP, 100, T, lot="L-777")
    mv(session, "transfer_out", "IMP", FENT_AMP, 100, days(T, 1), counterparty_id="D1", lot="L-777")
    mv(session, "receipt", "D1", FENT_AMP, 100, days(T, 2), counterparty_id="IMP", lot="L-777")
    mv(session, "transfer_out", "D1", FENT_AMP, 40, days(T, 5), counterparty_id="P1", lot="L-777")
    mv(session, "receipt", "P1", FENT_AMP, 40, days(T, 6), counterparty_id="D1", lot="L-777")
    session.add(Seizure(seizure_id="SZ-1", occurred_at=days(T, 20), ubigeo="150132",
                        agency="PNP-DIRANDRO", context="street", product_code=FENT_AMP, lot="L-777",
                        units=10, content_hash="x"))
    # Look-alike: a seizure of a lot nobody in the registry ever handled is flagged as untraced.
    session.add(Seizure(seizure_id="SZ-2", occurred_at=days(T, 21), ubigeo="150132",
                        agency="PNP-DIRANDRO", lot="L-UNKNOWN", content_hash="y"))
    session.add(Seizure(seizure_id="SZ-3", occurred_at=days(T, 21), ubigeo="150132",
                        agency="PNP-DIRANDRO", substance="fentanyl", content_hash="z"))
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 25), patient_id="PSN:x1", prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    alerts = {a.subject_id: a for a in _alerts(session, "seizure_trace")}
    assert set(alerts) == {"L-777", "L-UNKNOWN"}
    traced = alerts["L-777"]
    assert traced.subject_kind == "lot"
    assert traced.evidence["last_custodian"] == "P1"
    assert traced.evidence["traced"] is True
    assert alerts["L-UNKNOWN"].evidence["traced"] is False
    assert traced.score > alerts["L-UNKNOWN"].score
    # An untraced lot names nobody to inspect: a low notice, not a finding against a subject.
    assert alerts["L-UNKNOWN"].severity == "low"


def test_seized_lot_is_traced_when_copied_loosely_or_under_another_product_code(session):
    """Quirk: the police copy the lot off the box (" fn-23045a" for "FN23045A") and name the product
    by the GTIN on the box rather than the registry number the ledger uses."""
    base_products(session)
    for e in ("IMP", "P1"):
        est(session, e)
    mv(session, "import", "IMP", FENT_AMP, 100, T, lot="FN23045A")
    mv(session, "transfer_out", "IMP", FENT_AMP, 100, days(T, 1), counterparty_id="P1", lot="FN23045A")
    mv(session, "receipt", "P1", FENT_AMP, 100, days(T, 2), counterparty_id="IMP", lot="FN23045A")
    session.add(Seizure(seizure_id="SZ-9", occurred_at=days(T, 20), ubigeo="150132",
                        agency="PNP-DIRANDRO", context="street", product_code="07750000000000",
                        lot=" fn-23045a", units=5, content_hash="q"))
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 25), patient_id="PSN:x1", prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    [alert] = _alerts(session, "seizure_trace")
    assert alert.evidence["traced"] is True, (alert.summary, alert.evidence)
    assert alert.evidence["last_custodian"] == "P1"
    assert alert.evidence["matched_without_product"] is True
    assert alert.severity in ("medium", "high", "critical")


def test_receipt_booked_weeks_late_is_not_a_missing_shipment(session):
    """Quirk: the delivery note typed in 8 and 20 days after the shipment (past the 7-day
    window) while another shipment on the same route is received on time; a shipment whose
    units never arrive is still flagged."""
    base_products(session)
    for e in ("D1", "P1"):
        est(session, e)
    mv(session, "transfer_out", "D1", FENT_AMP, 5, T, counterparty_id="P1", event_id="LATE-8")
    mv(session, "receipt", "P1", FENT_AMP, 5, days(T, 8.05), counterparty_id="D1")
    mv(session, "transfer_out", "D1", FENT_AMP, 10, days(T, 30), counterparty_id="P1",
       event_id="LATE-20")
    mv(session, "transfer_out", "D1", FENT_AMP, 10, days(T, 35), counterparty_id="P1",
       event_id="ON-TIME")
    mv(session, "receipt", "P1", FENT_AMP, 10, days(T, 36), counterparty_id="D1")
    mv(session, "receipt", "P1", FENT_AMP, 10, days(T, 50), counterparty_id="D1")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, 70), counterparty_id="P1",
       event_id="NEVER")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 120), patient_id="PSN:x1",
       prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    assert [a.subject_id for a in _alerts(session, "transfer_not_received")] == ["NEVER"]


def test_shipment_due_after_the_receivers_last_report_waits_for_its_report(session):
    """Quirk: a receiver whose last weeks are not reported yet (a partial last month). Its
    shipment due after its own last report is not judged; a receiver that keeps reporting past
    the due date without booking the receipt is flagged; a receiver silent for months gets one
    low notice (missing reports), not a diversion alert."""
    base_products(session)
    for e in ("D1", "LATE", "BUSY", "GONE"):
        est(session, e, "distributor" if e == "D1" else "pharmacy")
    # LATE reported up to T+30 (its last weeks not sent yet); the shipment is due at T+35.
    mv(session, "transfer_out", "D1", FENT_AMP, 40, T, counterparty_id="LATE")
    mv(session, "receipt", "LATE", FENT_AMP, 40, days(T, 1), counterparty_id="D1")
    mv(session, "dispense", "LATE", FENT_AMP, 1, days(T, 30), patient_id="PSN:x1",
       prescriber_id="CMP-1")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, days(T, 28), counterparty_id="LATE",
       event_id="SHIP-PENDING")
    # BUSY keeps reporting weeks after the due date and never books the receipt.
    mv(session, "transfer_out", "D1", FENT_AMP, 50, days(T, 28), counterparty_id="BUSY",
       event_id="SHIP-UNBOOKED")
    mv(session, "dispense", "BUSY", FENT_AMP, 1, days(T, 40), patient_id="PSN:x2",
       prescriber_id="CMP-1")
    mv(session, "dispense", "BUSY", FENT_AMP, 1, days(T, 85), patient_id="PSN:x2",
       prescriber_id="CMP-1")
    # GONE stopped reporting at T; shipments were still sent to it at T+5 and T+20.
    mv(session, "dispense", "GONE", FENT_AMP, 1, T, patient_id="PSN:x3", prescriber_id="CMP-1")
    mv(session, "transfer_out", "D1", FENT_AMP, 30, days(T, 5), counterparty_id="GONE",
       event_id="SHIP-GONE-1")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, 20), counterparty_id="GONE",
       event_id="SHIP-GONE-2")
    session.commit()
    run_all(session)
    alerts = {(a.subject_kind, a.subject_id): a for a in _alerts(session, "transfer_not_received")}
    assert set(alerts) == {("shipment", "SHIP-UNBOOKED"), ("establishment", "GONE")}
    flagged = alerts[("shipment", "SHIP-UNBOOKED")]
    assert flagged.severity in ("medium", "high", "critical")
    assert flagged.evidence["receiver_last_report"] == "2025-08-26"
    notice = alerts[("establishment", "GONE")]
    assert notice.severity == "low"
    assert notice.evidence["shipments"] == ["SHIP-GONE-1", "SHIP-GONE-2"]
    assert notice.evidence["units_unconfirmed"] == 50


def test_receiver_that_books_deliveries_late_as_a_habit_is_judged_after_its_own_delay(session):
    """Quirk: a hospital whose clerk types delivery notes in about twelve days after each
    shipment. Its last shipment, twelve days before its last report, is not yet due for it;
    the same shipment to a receiver that books within two days is flagged."""
    base_products(session)
    for e in ("D1", "SLOW", "FAST"):
        est(session, e, "distributor" if e == "D1" else "hospital")
    for k in range(6):
        t = days(T, 20 * k)
        for r, lag in (("SLOW", 11 + k % 3), ("FAST", 1 + k % 2)):
            mv(session, "transfer_out", "D1", FENT_AMP, 100, t, counterparty_id=r)
            mv(session, "receipt", r, FENT_AMP, 100, days(t, lag), counterparty_id="D1")
    last = days(T, 130)
    for r in ("SLOW", "FAST"):
        mv(session, "transfer_out", "D1", FENT_AMP, 100, last, counterparty_id=r,
           event_id=f"SHIP-{r}")
        mv(session, "administer", r, FENT_AMP, 1, days(last, 12), patient_id=f"PSN:{r}",
           professional_id="CEP-1")
    session.commit()
    run_all(session)
    assert [a.subject_id for a in _alerts(session, "transfer_not_received")] == ["SHIP-FAST"]


def test_receipt_in_packs_booked_after_the_window_is_matched(session):
    """Quirk: the receiver books 2 packs (10 units) 9 days after the shipment and another
    shipment's 5 packs 7 days and 2 hours after it, past the 7-day window: late and in packs,
    still the shipment. A shipment whose units never arrive is still flagged."""
    from centinela.registry.models import Product

    base_products(session)
    session.get(Product, FENT_AMP).units_per_pack = 5
    for e in ("D1", "P1"):
        est(session, e)
    mv(session, "transfer_out", "D1", FENT_AMP, 10, T, counterparty_id="P1", event_id="PACK-9")
    mv(session, "transfer_out", "D1", FENT_AMP, 25, days(T, 8), counterparty_id="P1",
       event_id="ON-TIME")
    mv(session, "receipt", "P1", FENT_AMP, 2, days(T, 9), counterparty_id="D1")  # 2 packs
    mv(session, "receipt", "P1", FENT_AMP, 25, days(T, 12), counterparty_id="D1")
    mv(session, "transfer_out", "D1", FENT_AMP, 25, days(T, 40), counterparty_id="P1",
       event_id="PACK-7")
    mv(session, "receipt", "P1", FENT_AMP, 5, days(T, 47.1), counterparty_id="D1")  # 5 packs
    mv(session, "transfer_out", "D1", FENT_AMP, 15, days(T, 60), counterparty_id="P1",
       event_id="NEVER")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 100), patient_id="PSN:x1",
       prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    assert [a.subject_id for a in _alerts(session, "transfer_not_received")] == ["NEVER"]


def test_one_late_receipt_does_not_take_the_next_shipments_receipt(session):
    """Quirk: a receiver books late and in packs: 45 packs (2 250 units) 7½ days after the
    first shipment, the next shipment's 2 200 units 10 days after it. Each receipt is its own
    shipment's: no alert (the old late pass gave the second receipt to the first shipment and
    flagged both). Two consecutive shipments with only one late receipt: one alert at most."""
    from centinela.registry.models import Product

    base_products(session)
    session.get(Product, FENT_AMP).units_per_pack = 50
    for e in ("D1", "H1", "H2"):
        est(session, e, "distributor" if e == "D1" else "hospital")
    mv(session, "transfer_out", "D1", FENT_AMP, 2250, T, counterparty_id="H1", event_id="A")
    mv(session, "receipt", "H1", FENT_AMP, 45, days(T, 7.4), counterparty_id="D1")  # packs
    mv(session, "transfer_out", "D1", FENT_AMP, 2200, days(T, 17), counterparty_id="H1",
       event_id="B")
    mv(session, "receipt", "H1", FENT_AMP, 2200, days(T, 27.3), counterparty_id="D1")
    # H2: the same two shipments, only the second one booked (late): one of them is short.
    mv(session, "transfer_out", "D1", FENT_AMP, 2250, T, counterparty_id="H2", event_id="C")
    mv(session, "transfer_out", "D1", FENT_AMP, 2250, days(T, 17), counterparty_id="H2",
       event_id="D")
    mv(session, "receipt", "H2", FENT_AMP, 2250, days(T, 27.3), counterparty_id="D1")
    for e in ("H1", "H2"):
        mv(session, "administer", e, FENT_AMP, 1, days(T, 80), patient_id="PSN:x1",
           prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    alerts = _alerts(session, "transfer_not_received")
    assert [a.subject_id for a in alerts] == ["C"]
    assert alerts[0].evidence["units_missing"] == 2250


def test_late_receipt_stays_with_the_shipment_booked_in_parts_around_it(session):
    """Look-alike of a late booking: a 10-unit shipment never arrives; two weeks later a
    20-unit shipment is booked in three parts (10 + 5 + 5) inside its own window. The 10-unit
    part is the second shipment's, not the first one's late receipt: the lost one is flagged."""
    base_products(session)
    for e in ("D1", "P1"):
        est(session, e)
    mv(session, "transfer_out", "D1", FENT_AMP, 10, T, counterparty_id="P1", event_id="LOST")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, 15), counterparty_id="P1",
       event_id="PARTS")
    for d, q in ((16, 10), (17, 5), (18, 5)):
        mv(session, "receipt", "P1", FENT_AMP, q, days(T, d), counterparty_id="D1")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 60), patient_id="PSN:x1",
       prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    assert [a.subject_id for a in _alerts(session, "transfer_not_received")] == ["LOST"]


def test_next_delivery_of_the_route_is_not_a_receipt_of_a_lost_two_line_shipment(session):
    """Quirk of our own generator's seed 53: a distributor ships 25 patches as two lines of
    the same lot (11 + 14) that are never received; ten days later the route's next delivery
    (21 + 4, another two lines) is shipped and received the same day. The burst rule (lines
    whose receipts cannot be told apart) must set those receipts against their own shipment:
    the lost shipment is flagged, once. A true burst — two lines received together two days later —
    is still an ambiguity resolved by its receipts, not a loss."""
    base_products(session)
    for e in ("D1", "P1", "P2"):
        est(session, e, "distributor" if e == "D1" else "pharmacy")
    mv(session, "transfer_out", "D1", FENT_PATCH, 11, T, counterparty_id="P1", event_id="LOST-A", lot="L1")
    mv(session, "transfer_out", "D1", FENT_PATCH, 14, T, counterparty_id="P1", event_id="LOST-B", lot="L1")
    for q, eid in ((21, "NEXT-A"), (4, "NEXT-B")):
        mv(session, "transfer_out", "D1", FENT_PATCH, q, days(T, 10), counterparty_id="P1",
           event_id=eid, lot="L1")
        mv(session, "receipt", "P1", FENT_PATCH, q, days(T, 10) + dt.timedelta(hours=2),
           counterparty_id="D1", lot="L1")
    # P2: a burst of two lines received as one booking of the same total two days later.
    mv(session, "transfer_out", "D1", FENT_PATCH, 11, T, counterparty_id="P2", event_id="BURST-A", lot="L1")
    mv(session, "transfer_out", "D1", FENT_PATCH, 14, T, counterparty_id="P2", event_id="BURST-B", lot="L1")
    mv(session, "receipt", "P2", FENT_PATCH, 25, days(T, 2), counterparty_id="D1", lot="L1")
    for e in ("P1", "P2"):
        mv(session, "dispense", e, FENT_PATCH, 1, days(T, 60), patient_id=f"PSN:{e}",
           prescriber_id="CMP-1")
    session.commit()
    run_all(session, only=["transfer_not_received"])
    alerts = _alerts(session, "transfer_not_received")
    # The two lines of one delivery note are one lost shipment: one alert, named by its
    # first line, listing both.
    assert [a.subject_id for a in alerts] == ["LOST-A"]
    ev = alerts[0].evidence
    assert ev["units_shipped"] == 25 and ev["units_missing"] == 25
    assert [line["event_id"] for line in ev["lines"]] == ["LOST-A", "LOST-B"]
    assert "2 líneas" in alerts[0].summary


def test_late_receipt_is_not_reserved_by_a_later_shipment_of_another_quantity(session):
    """Quirk of foreign seed 23: 300 ampoules shipped on day 0 are booked as received on day
    9 (late, within a reporting cycle); a second shipment of 500 leaves on day 11. The
    receipt lies within three days before the second shipment — where a receipt may sit when
    the sender types its dispatch late — but it is not that shipment's (another quantity):
    it stays the first one's late receipt, and nothing is flagged."""
    base_products(session)
    for e in ("D1", "P1"):
        est(session, e, "distributor" if e == "D1" else "pharmacy")
    mv(session, "transfer_out", "D1", FENT_AMP, 300, T, counterparty_id="P1", event_id="FIRST")
    mv(session, "receipt", "P1", FENT_AMP, 300, days(T, 9), counterparty_id="D1")
    mv(session, "transfer_out", "D1", FENT_AMP, 500, days(T, 11), counterparty_id="P1",
       event_id="SECOND")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 10), patient_id="PSN:x1", prescriber_id="CMP-1")
    session.commit()
    run_all(session, only=["transfer_not_received"])
    assert _alerts(session, "transfer_not_received") == []


def test_lost_shipment_among_the_routes_next_deliveries_and_a_dense_burst(session):
    """Quirks of our seeds 57 and 53: a distributor's 40 tablets on day 0 never arrive, while
    its next deliveries of 60 on days 3 and 19 are received the same day — those receipts
    account for their own shipments and cover nothing of the lost one. A hospital pharmacy
    that sends dozens of five-unit lines a day to a ward, with receipts booked late or in two
    parts, is a burst whose receipts add up (within 2 %): an ambiguity, not a loss."""
    base_products(session)
    for e in ("D1", "P1", "WARD", "PHARM"):
        est(session, e, "distributor" if e == "D1" else "hospital")
    mv(session, "transfer_out", "D1", MORPH_TAB, 40, T, counterparty_id="P1", event_id="LOST40")
    for d, eid in ((3, "NEXT1"), (19, "NEXT2")):
        mv(session, "transfer_out", "D1", MORPH_TAB, 60, days(T, d), counterparty_id="P1", event_id=eid)
        mv(session, "receipt", "P1", MORPH_TAB, 60, days(T, d) + dt.timedelta(hours=2),
           counterparty_id="D1")
    n = 0
    for d in range(20):
        for k in range(6):
            at = days(T, d) + dt.timedelta(hours=8 + 2 * k)
            n += 1
            mv(session, "transfer_out", "PHARM", FENT_AMP, 5, at, counterparty_id="WARD",
               event_id=f"LINE-{n:03d}")
            if n % 17 == 0:  # booked in two parts, the second a day later
                mv(session, "transfer_in", "WARD", FENT_AMP, 2, at + dt.timedelta(hours=1),
                   counterparty_id="PHARM")
                mv(session, "transfer_in", "WARD", FENT_AMP, 3, at + dt.timedelta(days=1, hours=1),
                   counterparty_id="PHARM")
            elif n % 11 == 0:  # booked three days late
                mv(session, "transfer_in", "WARD", FENT_AMP, 5, at + dt.timedelta(days=3),
                   counterparty_id="PHARM")
            else:
                mv(session, "transfer_in", "WARD", FENT_AMP, 5, at + dt.timedelta(minutes=5),
                   counterparty_id="PHARM")
    for e in ("P1", "WARD"):
        mv(session, "dispense", e, MORPH_TAB, 1, days(T, 60), patient_id=f"PSN:{e}", prescriber_id="CMP-1")
    session.commit()
    run_all(session, only=["transfer_not_received"])
    assert [a.subject_id for a in _alerts(session, "transfer_not_received")] == ["LOST40"]


def test_a_sender_whose_shipments_arrive_short_at_many_receivers_gets_the_alert(session):
    """D1 records shipments larger than what its pharmacies book (four of five short): the
    common factor is the sender. One alert on D1; the shipments sit under it and the receivers
    get no roll-up of their own. Look-alike: D2, whose one receiver lost one shipment, keeps a
    shipment alert of its own grade (no sender roll-up below three receivers)."""
    base_products(session)
    for e in ("D1", "D2", "Q1", *(f"P{i}" for i in range(5))):
        est(session, e, "distributor" if e.startswith("D") else "pharmacy")
    for i in range(5):
        for k in range(2):
            t = days(T, 10 * k + i)
            mv(session, "transfer_out", "D1", FENT_AMP, 30, t, counterparty_id=f"P{i}",
               event_id=f"S{i}-{k}")
            mv(session, "receipt", f"P{i}", FENT_AMP, 30 if i == 4 else 20, days(t, 1),
               counterparty_id="D1")
    mv(session, "transfer_out", "D2", FENT_AMP, 20, days(T, 3), counterparty_id="Q1",
       event_id="SQ-1")
    for e in (*(f"P{i}" for i in range(5)), "Q1"):
        mv(session, "dispense", e, FENT_AMP, 1, days(T, 60), patient_id="PSN:x1",
           prescriber_id="CMP-1")
    session.commit()
    run_all(session)
    alerts = {(a.subject_kind, a.subject_id): a for a in _alerts(session, "transfer_not_received")}
    d1 = alerts[("establishment", "D1")]
    assert d1.evidence["reason"] == "sender_many" and d1.evidence["receiver_count"] == 4
    assert d1.evidence["receivers_served"] == 5 and d1.evidence["units_missing"] == 80
    assert d1.evidence["shipments_partly_received"] == 8
    assert d1.severity in ("high", "critical") and "remitente" in d1.summary
    for i in range(4):
        for k in range(2):
            a = alerts[("shipment", f"S{i}-{k}")]
            assert a.severity == "low" and a.evidence["grouped_under_establishment"] == "D1"
    assert not any(k[0] == "establishment" and k[1].startswith("P") for k in alerts)
    assert alerts[("shipment", "SQ-1")].severity != "low"


def test_the_same_serial_scanned_twice_for_one_patient_by_one_nurse_in_a_day_is_a_notice(session):
    base_products(session)
    est(session, "H1", "hospital")
    # One nurse, one patient, an hour apart: the next dose recorded with the last pack's scan.
    mv(session, "administer", "H1", FENT_AMP, 0.5, T, serial="SN-SLIP", patient_id="PSN:p1",
       professional_id="CEP-1")
    mv(session, "administer", "H1", FENT_AMP, 1, T + dt.timedelta(hours=1), serial="SN-SLIP",
       patient_id="PSN:p1", professional_id="CEP-1")
    # Look-alike of the notice: two patients (a clone) keeps its grade.
    mv(session, "administer", "H1", FENT_AMP, 1, T, serial="SN-TWO", patient_id="PSN:p2",
       professional_id="CEP-1")
    mv(session, "administer", "H1", FENT_AMP, 1, T + dt.timedelta(hours=2), serial="SN-TWO",
       patient_id="PSN:p3", professional_id="CEP-1")
    session.commit()
    run_all(session)
    alerts = {a.subject_id: a for a in _alerts(session, "serial_reuse")}
    slip, two = alerts["SN-SLIP"], alerts["SN-TWO"]
    assert slip.severity == "low" and slip.evidence["same_hand"] is True
    assert "error de registro" in slip.summary
    assert two.severity != "low" and two.evidence["same_hand"] is False


def test_many_seized_serials_of_one_lot_are_one_alert_on_the_lot(session):
    """Four serialized ampoules of one lot seized on the street, all last recorded at H1 (three
    of them wasted by CEP-5): one alert on the lot naming the custodian and the hand; the
    serials sit under it. A single seized serial of another lot keeps its own grade."""
    base_products(session)
    est(session, "H1", "hospital")
    for i in range(4):
        mv(session, "receipt", "H1", FENT_AMP, 1, T, serial=f"SN-{i}", lot="LOT-A",
           counterparty_id="H1")
        mv(session, "waste", "H1", FENT_AMP, 1, days(T, 3 + i), serial=f"SN-{i}", lot="LOT-A",
           professional_id="CEP-5" if i < 3 else "CEP-6", witness_id="CEP-7")
        session.add(Seizure(seizure_id=f"SZ-{i}", occurred_at=days(T, 30), ubigeo="150132",
                            agency="PNP-DIRANDRO", context="street", serial=f"SN-{i}",
                            units=1, content_hash=f"h{i}"))
    mv(session, "receipt", "H1", FENT_AMP, 1, T, serial="SN-B", lot="LOT-B", counterparty_id="H1")
    session.add(Seizure(seizure_id="SZ-B", occurred_at=days(T, 31), ubigeo="150132",
                        agency="PNP-DIRANDRO", context="street", serial="SN-B", units=1,
                        content_hash="hb"))
    mv(session, "administer", "H1", FENT_AMP, 1, days(T, 40), patient_id="PSN:x")
    session.commit()
    run_all(session)
    alerts = {(a.subject_kind, a.subject_id): a for a in _alerts(session, "seizure_trace")}
    lot = alerts[("lot", "LOT-A")]
    assert lot.evidence["serial_count"] == 4 and lot.evidence["last_custodian"] == "H1"
    assert lot.evidence["last_handlers"][0] == {"professional_id": "CEP-5", "units": 3}
    assert lot.severity in ("high", "critical") and "CEP-5" in lot.summary
    for i in range(4):
        a = alerts[("serial", f"SN-{i}")]
        assert a.severity == "low" and a.evidence["grouped_under_lot"] == "LOT-A"
    assert alerts[("serial", "SN-B")].severity != "low"


def test_an_alert_whose_evidence_went_away_is_marked_not_found_again_never_closed(session):
    # A shipment flagged as never received; its receipt is booked weeks later (a late delivery
    # note). The next full run does not find it again: the alert stays open, marked with the
    # day of that run, and the mark goes if the finding comes back. Alerts outside the run's
    # lookback, and other detectors' alerts, are left alone.
    base_products(session)
    for e in ("D1", "P1", "P2"):
        est(session, e, "distributor" if e == "D1" else "pharmacy")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T, counterparty_id="P1", event_id="SHIP-1")
    mv(session, "transfer_out", "D1", FENT_AMP, 30, T, counterparty_id="P2", event_id="SHIP-2")
    mv(session, "dispense", "P1", FENT_AMP, 1, days(T, 30), patient_id="PSN:x1",
       prescriber_id="CMP-1")
    mv(session, "dispense", "P2", FENT_AMP, 1, days(T, 30), patient_id="PSN:x2",
       prescriber_id="CMP-1")
    session.commit()
    run_all(session, now=days(T, 31))
    alerts = {a.subject_id: a for a in _alerts(session, "transfer_not_received")}
    assert set(alerts) == {"SHIP-1", "SHIP-2"}
    assert not any("not_found_since" in a.evidence for a in alerts.values())
    late = mv(session, "receipt", "P1", FENT_AMP, 50, days(T, 32), counterparty_id="D1")
    session.commit()
    report = run_all(session, now=days(T, 33))
    alerts = {a.subject_id: a for a in _alerts(session, "transfer_not_received")}
    assert alerts["SHIP-1"].status != "closed"
    assert alerts["SHIP-1"].evidence["not_found_since"]  # the day of the run that missed it
    assert "not_found_since" not in alerts["SHIP-2"].evidence  # still missing: found again
    res = next(r for r in report.results if r.name == "transfer_not_received")
    assert res.stale == 1
    session.delete(late)  # the receipt withdrawn: the shipment is missing again
    session.commit()
    run_all(session, now=days(T, 34))
    again = {a.subject_id: a for a in _alerts(session, "transfer_not_received")}
    assert "not_found_since" not in again["SHIP-1"].evidence
