"""The ledger on small hand-built data: stock, count reconciliation, transfers, serials, summary."""

from __future__ import annotations

import datetime as dt

import pytest

from centinela.ingest.service import import_directory
from centinela.ledger.serials import last_custodian, lot_holders, serial_paths, serial_timeline
from centinela.ledger.stock import book_stock, reconcile_counts, stock_on_hand
from centinela.ledger.summary import format_summary, national_summary
from centinela.ledger.transfers import match_transfers
from tests.ingest_support import movement, write_csv, write_registry

NOW = dt.datetime(2025, 2, 1, 12, 0)


def t(day: int, hour: int = 10, month: int = 1) -> str:
    return f"2025-{month:02d}-{day:02d}T{hour:02d}:00:00-05:00"


def utc(day: int, hour: int = 10, month: int = 1) -> dt.datetime:
    return dt.datetime(2025, month, day, hour) + dt.timedelta(hours=5)


MOVES = [
    movement("I1", "import", t(1), "EST-IMP", "1000", lot="L1"),
    movement("O1", "transfer_out", t(2), "EST-IMP", "500", counterparty_id="EST-DIS", lot="L1"),
    movement("R1", "receipt", t(3), "EST-DIS", "500", counterparty_id="EST-IMP", lot="L1"),
    # A receipt recorded two hours before its shipment, and a later shipment of the same size.
    movement("R5", "receipt", t(4, 10), "EST-HOS", "100", counterparty_id="EST-DIS", lot="L1"),
    movement("O5", "transfer_out", t(4, 12), "EST-DIS", "100", counterparty_id="EST-HOS",
             lot="L1"),
    movement("O2", "transfer_out", t(5, 10), "EST-DIS", "100", counterparty_id="EST-HOS",
             lot="L1"),
    movement("R2", "receipt", t(5, 14), "EST-HOS", "100", counterparty_id="EST-DIS", lot="L1"),
    # Never received (deadline passed), a receipt with no shipment, one still in transit.
    movement("O3", "transfer_out", t(6), "EST-DIS", "50", counterparty_id="EST-FAR", lot="L1"),
    movement("R9", "receipt", t(10), "EST-FAR", "30", counterparty_id="EST-DIS", lot="L2"),
    movement("O4", "transfer_out", t(30), "EST-DIS", "20", counterparty_id="EST-HOS", lot="L1"),
    # Wrong lot: not a match for O6 even though everything else agrees.
    movement("O6", "transfer_out", t(7), "EST-DIS", "10", counterparty_id="EST-HOS", lot="L1"),
    movement("R6", "receipt", t(8), "EST-HOS", "10", counterparty_id="EST-DIS", lot="L7"),
    # Use and counts at the hospital.
    movement("A1", "administer", t(6, 9), "EST-HOS", "0.5", patient_id="PSN:pat00001",
             serial="SN-1", lot="L1"),
    movement("W1", "waste", t(6, 10), "EST-HOS", "0.5", witness_id="CEP-00077", serial="SN-1",
             lot="L1"),
    movement("C1", "count", t(9), "EST-HOS", "209"),  # book 210: one ampoule missing
    movement("D1", "administer", t(12), "EST-HOS", "4", patient_id="PSN:pat00002"),
    movement("C2", "count", t(15), "EST-HOS", "205"),  # expected 209 − 4 = 205: consistent
    movement("C3", "count", t(15), "EST-HOS", "199", lot="L1"),  # lot book 199
    # A serial moving from the distributor to the pharmacy, then dispensed.
    movement("S1", "transfer_out", t(20), "EST-DIS", "1", counterparty_id="EST-FAR",
             serial="SN-9", lot="L1"),
    movement("S2", "receipt", t(21), "EST-FAR", "1", counterparty_id="EST-DIS", serial="SN-9",
             lot="L1"),
    movement("S3", "dispense", t(22), "EST-FAR", "1", serial="SN-9", lot="L1",
             patient_id="PSN:pat00003", prescription_id="RE-9", prescriber_id="CMP-012345"),
]


@pytest.fixture
def ledger_db(engine, session, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", MOVES)
    report = import_directory(engine, data_dir, now=NOW)
    assert report.files[-1].accepted == len(MOVES), report.as_text()
    return session


def test_book_stock_per_place_product_and_lot(ledger_db):
    s = ledger_db
    stock = {(x.establishment_id, x.product_code): x for x in book_stock(s)}
    assert stock[("EST-IMP", "EE-00001")].units == 500
    # DIS: +500 −100 −100 −50 −20 −10 −1 = 219
    assert stock[("EST-DIS", "EE-00001")].units == 219
    hos = stock[("EST-HOS", "EE-00001")]
    assert hos.units == 100 + 100 + 10 - 0.5 - 0.5 - 4 and hos.mg == pytest.approx(20.5)
    assert stock_on_hand(s, "EST-HOS", "EE-00001", as_of=utc(5, 12)) == 100
    by_lot = {(x.establishment_id, x.lot): x.units for x in book_stock(s, by_lot=True)}
    assert by_lot[("EST-HOS", "L7")] == 10 and by_lot[("EST-HOS", None)] == -4
    assert book_stock(s, substance="morphine") == []


def test_counts_reconciled_against_book_and_previous_count(ledger_db):
    checks = {c.event_id: c for c in reconcile_counts(ledger_db, establishment_id="EST-HOS")}
    c1, c2, c3 = checks["C1"], checks["C2"], checks["C3"]
    assert (c1.book, c1.expected, c1.discrepancy_units) == (209.0, 209.0, 0.0)
    # 100 + 100 + 10 − 1 (ampoule administered and wasted as two halves) = 209.
    assert c1.discrepancy_mg == 0
    assert (c2.book, c2.expected, c2.discrepancy_units) == (205.0, 205.0, 0.0)
    assert c2.previous_count_at == utc(9)
    assert c3.lot == "L1" and c3.book == 199.0 and c3.discrepancy_units == 0
    assert reconcile_counts(ledger_db, since=utc(10)) == [c2, c3]


def test_count_discrepancy_in_units_and_mg(engine, session, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement("X1", "receipt", t(1), "EST-FAR", "10", counterparty_id="EST-DIS"),
        movement("X2", "count", t(2), "EST-FAR", "7"),  # 3 missing
        movement("X3", "count", t(3), "EST-FAR", "7"),  # consistent with the previous count
        movement("X4", "loss", t(4), "EST-FAR", "1"),
        movement("X5", "count", t(5), "EST-FAR", "8"),  # 2 more than expected (7 − 1)
    ])
    import_directory(engine, data_dir)
    checks = reconcile_counts(session)
    assert [(c.book, c.expected, c.discrepancy_units) for c in checks] == [
        (10.0, 10.0, -3.0), (10.0, 7.0, 0.0), (9.0, 6.0, 2.0)]
    assert checks[0].discrepancy_mg == pytest.approx(-0.3)


def test_transfers_matched_end_to_end(ledger_db):
    m = match_transfers(ledger_db, NOW)
    pairs = {p.shipment.event_id: p.receipt.event_id for p in m.pairs}
    assert pairs == {"O1": "R1", "O5": "R5", "O2": "R2", "S1": "S2"}
    lag = {p.shipment.event_id: p.lag_hours for p in m.pairs}
    assert lag["O5"] == -2 and lag["O1"] == 24
    assert [x.event_id for x in m.unreceived] == ["O3", "O6"]
    assert [x.event_id for x in m.in_transit] == ["O4"]
    assert {x.event_id for x in m.unmatched_receipts} == {"R9", "R6"}
    later = match_transfers(ledger_db, NOW + dt.timedelta(days=10))
    assert [x.event_id for x in later.unreceived] == ["O3", "O6", "O4"]
    window = match_transfers(ledger_db, NOW, since=utc(4), until=utc(6, 23))
    assert {p.shipment.event_id for p in window.pairs} == {"O5", "O2"}
    assert [x.event_id for x in window.unreceived] == ["O3"]


def test_serial_timeline_and_custody(ledger_db):
    s = ledger_db
    tl = serial_timeline(s, "SN-9")
    assert [(e.event_id, e.establishment_id) for e in tl] == [
        ("S1", "EST-DIS"), ("S2", "EST-FAR"), ("S3", "EST-FAR")]
    c = last_custodian(s, utc(20, 12), serial="SN-9")
    assert (c.establishment_id, c.status, c.destination_id) == ("EST-DIS", "in_transit", "EST-FAR")
    assert last_custodian(s, utc(21, 12), serial="SN-9").status == "held"
    assert last_custodian(s, NOW, serial="SN-9").status == "dispensed"
    assert last_custodian(s, utc(1), serial="SN-9") is None
    assert set(serial_paths(s)) == {"SN-1", "SN-9"}
    assert serial_paths(s, ["SN-1"])["SN-1"][-1].event_type == "waste"
    holders = {h.establishment_id: h.units for h in lot_holders(s, "L1", NOW)}
    assert holders["EST-IMP"] == 500 and holders["EST-FAR"] == 0
    lot = last_custodian(s, NOW, lot="L1")
    assert lot.establishment_id == "EST-DIS" and lot.event_id == "O4"
    assert last_custodian(s, NOW, serial="SN-404", lot="L1") == lot  # unit never scanned
    with pytest.raises(ValueError):
        last_custodian(s, NOW)


def test_national_summary(ledger_db):
    data = national_summary(ledger_db)
    assert data["establishments"]["by_kind"] == {"distributor": 1, "drugstore": 1, "hospital": 1,
                                                "importer": 1}
    assert data["professionals"]["by_role"] == {"nurse": 1, "pharmacist": 1, "prescriber": 1}
    assert data["movements"]["total"] == len(MOVES)
    assert data["movements"]["by_type"]["transfer_out"] == 7
    assert data["movements"]["by_department"]["08"] == {"name": "Cusco", "movements": 9}
    # IMP 500 + DIS 219 + HOS 205 + FAR (30 + 1 − 1) = 954 units of 0.1 mg.
    assert data["stock_on_hand"]["fentanyl_units"] == 954
    assert data["stock_on_hand"]["fentanyl_mg"] == pytest.approx(95.4)
    text = format_summary(data)
    assert "Movimientos / movements: 21" in text and "95.4 mg" in text


def test_stock_on_hand_starts_from_the_last_count(session):
    """An establishment that went live with an opening count is not 'negative' for the stock it
    had before; one that never counted is its movements alone."""
    from centinela.ledger.summary import on_hand
    from tests.detect_factory import FENT_PATCH, base_products, est, mv

    base_products(session)
    est(session, "PH-C")
    est(session, "PH-N")
    mv(session, "count", "PH-C", FENT_PATCH, 50, dt.datetime(2025, 1, 1))
    mv(session, "dispense", "PH-C", FENT_PATCH, 30, dt.datetime(2025, 1, 5), patient_id="PSN:a1")
    mv(session, "count", "PH-C", FENT_PATCH, 18, dt.datetime(2025, 2, 1))  # 2 missing: counted
    mv(session, "dispense", "PH-C", FENT_PATCH, 8, dt.datetime(2025, 2, 3), patient_id="PSN:a2")
    mv(session, "receipt", "PH-N", FENT_PATCH, 10, dt.datetime(2025, 1, 2), counterparty_id="D")
    mv(session, "dispense", "PH-N", FENT_PATCH, 25, dt.datetime(2025, 1, 9), patient_id="PSN:a3")
    session.flush()
    assert on_hand(session) == [("PH-C", FENT_PATCH, 10.0), ("PH-N", FENT_PATCH, -15.0)]
    assert national_summary(session)["stock_on_hand"]["negative_balances"] == 1
