"""The ledger on the synthetic generator's output: planted ledger scenarios are found exactly."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from centinela.ingest.service import import_directory
from centinela.ledger.records import Seizure
from centinela.ledger.serials import last_custodian, lot_holders
from centinela.ledger.stock import book_stock, reconcile_counts
from centinela.ledger.summary import national_summary
from centinela.ledger.transfers import match_transfers

generate = pytest.importorskip("centinela.generate").generate


def _truth(folder) -> dict[str, dict]:
    rows = [json.loads(line) for line in (folder / "truth.jsonl").read_text().splitlines()]
    return {r["scenario"]: r for r in rows if r["kind"] == "planted"}


def test_generated_year_imports_cleanly_and_the_ledger_finds_the_planted_cases(engine, session,
                                                                               data_dir):
    generate(data_dir, seed=3, scale=0.01)
    truth = _truth(data_dir)
    report = import_directory(engine, data_dir)
    assert report.total("rejected") == 0 and report.total("conflicts") == 0, report.as_text()
    moved = report.files[3]
    assert moved.record_type == "movements" and moved.accepted > 10_000

    # Transfers: every shipment is received except the planted one.
    m = match_transfers(session, dt.datetime(2026, 12, 31))
    assert [x.event_id for x in m.unreceived] == [truth["shipment_not_received"]["subject_id"]]
    assert m.unmatched_receipts == [] and len(m.pairs) > 100

    # Counts agree with the books everywhere but at the planted shrinkage.
    shrink = truth["inventory_shrinkage"]["subject_id"]
    checks = reconcile_counts(session)
    off = [c for c in checks if abs(c.discrepancy_units) > 1e-9]
    assert off and {c.establishment_id for c in off} == {shrink}
    assert all(c.discrepancy_units < 0 and c.discrepancy_mg < 0 for c in off)
    assert all(x.units >= 0 for x in book_stock(session))

    # A seized serial is traced to its last custodian (through its neighbours' serials when
    # boxes moved by lot); a seized lot without serials, spread over several shelves, to the
    # establishments that still hold it, the true source among them.
    case = truth["seized_serial_trace"]
    seizure = session.get(Seizure, case["seizure_id"])
    custody = last_custodian(session, seizure.occurred_at, serial=seizure.serial,
                             lot=seizure.lot, product_code=seizure.product_code)
    assert custody is not None and custody.establishment_id in case["description"]
    assert custody.status == "held"
    case = truth["seized_lot_trace"]
    seizure = session.get(Seizure, case["seizure_id"])
    holders = {h.establishment_id for h in lot_holders(session, seizure.lot, seizure.occurred_at,
                                                       seizure.product_code) if h.units > 0}
    assert any(e in case["description"] for e in holders), holders
    custody = last_custodian(session, seizure.occurred_at, lot=seizure.lot,
                             product_code=seizure.product_code)
    assert custody is not None and custody.establishment_id in holders

    summary = national_summary(session)
    assert summary["movements"]["total"] == moved.accepted
    assert summary["stock_on_hand"]["fentanyl_mg"] > 0
    assert summary["rejections"]["total"] == 0
