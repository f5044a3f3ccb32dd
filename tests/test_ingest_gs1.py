"""GS1 DataMatrix scans on movements: parsed with biip, filled in, contradictions rejected."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from centinela.ingest import gs1
from centinela.ingest.service import import_directory
from centinela.ingest.values import Invalid
from centinela.ledger.records import Movement, Rejection
from centinela.registry.models import Product
from tests.ingest_support import ESTABLISHMENTS, PRODUCTS, PROFESSIONALS, movement, write_csv

GTIN = "07751234567892"  # valid check digit
FNC1 = "\x1d"
SCAN = f"01{GTIN}17270131" + f"10L-2025A{FNC1}21SN0001"
FIELDS = [*[f for f in movement("x", "receipt", "", "").keys()], "gs1_scan"]


def _registry(folder, gtin: str = GTIN) -> None:
    write_csv(folder, "establishments", ESTABLISHMENTS)
    write_csv(folder, "professionals", PROFESSIONALS)
    prods = [dict(p, gtin=gtin if p["product_code"] == "EE-00001" else "") for p in PRODUCTS]
    write_csv(folder, "products", prods, fields=list(prods[0]))


def _receipt(event_id: str, scan: str, **extra) -> dict:
    m = movement(event_id, "receipt", "2025-03-01T10:00:00-05:00", "EST-HOS",
                 counterparty_id="EST-DIS", **extra)
    return {**m, "gs1_scan": scan}


@pytest.mark.parametrize("scan", [
    SCAN,
    "]d2" + SCAN,
    f"(01){GTIN}(17)270131(10)L-2025A(21)SN0001",
    f"https://id.gs1.org/01/{GTIN}/10/L-2025A/21/SN0001?17=270131",
])
def test_a_scan_fills_lot_expiry_and_serial(scan):
    s = gs1.parse_scan(scan)
    assert (s.gtin, s.lot, s.expiry.isoformat(), s.serial) == \
        (GTIN, "L-2025A", "2027-01-31", "SN0001")


@pytest.mark.parametrize("scan,why", [
    ("hello", "not a readable GS1 code"),
    ("0107751234567891172701311021", "invalid GTIN check digit"),
    ("17270131" + "10ABC", "no GTIN"),
])
def test_unreadable_scans_are_named(scan, why):
    with pytest.raises(Invalid) as err:
        gs1.parse_scan(scan)
    assert why in err.value.reason and err.value.field == "gs1_scan"


def test_intake_fills_the_row_from_the_scan_and_rejects_contradictions(engine, session,
                                                                       data_dir):
    _registry(data_dir)
    rows = [
        _receipt("G1", SCAN),                                     # fills lot, expiry, serial
        _receipt("G2", SCAN.replace("SN0001", "SN0002"), lot="L-2025A"),  # agrees
        _receipt("G3", SCAN.replace("SN0001", "SN0003"), lot="OTHER"),    # lot contradicts
        _receipt("G4", SCAN.replace("SN0001", "SN0004"), expiry="2028-01-01"),
        _receipt("G5", SCAN.replace("SN0001", "SN0005"), product_code="EE-00003"),  # not its GTIN
        _receipt("G6", "garbage"),
    ]
    write_csv(data_dir, "movements", rows, fields=FIELDS)
    report = import_directory(engine, data_dir, realtime=False)
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (2, 4), report.as_text()
    g1 = session.scalars(select(Movement).where(Movement.event_id == "G1")).one()
    assert (g1.lot, g1.expiry.isoformat(), g1.serial) == ("L-2025A", "2027-01-31", "SN0001")
    reasons = {r.record_key: (r.field, r.reason) for r in session.scalars(select(Rejection))}
    assert reasons["G3"][0] == "lot" and "contradicts the scan" in reasons["G3"][1]
    assert reasons["G4"][0] == "expiry"
    assert reasons["G5"][0] == "gs1_scan" and "is not product" in reasons["G5"][1]
    assert reasons["G6"][0] == "gs1_scan"


def test_a_product_whose_code_is_a_gtin_matches_by_code(engine, session, data_dir):
    write_csv(data_dir, "establishments", ESTABLISHMENTS)
    write_csv(data_dir, "professionals", PROFESSIONALS)
    write_csv(data_dir, "products", [dict(PRODUCTS[0], product_code="7751234567892")])
    write_csv(data_dir, "movements", [_receipt("G1", SCAN, product_code="7751234567892")],
              fields=FIELDS)
    assert import_directory(engine, data_dir, realtime=False).files[-1].accepted == 1


def test_a_product_gtin_must_be_valid(engine, session, data_dir):
    _registry(data_dir, gtin="7751234567890")
    report = import_directory(engine, data_dir, realtime=False)
    products = report.files[2]
    assert products.rejected == 1 and "invalid GTIN" in products.samples[0].reason
    _registry(data_dir, gtin="7751234567892")  # GTIN-13 is stored as 14 digits
    import_directory(engine, data_dir, realtime=False)
    assert session.get(Product, "EE-00001").gtin == GTIN


def test_base_files_without_the_extension_columns_mean_the_same(engine, session, data_dir):
    _registry(data_dir)
    write_csv(data_dir, "movements", [movement("B1", "receipt", "2025-03-01T10:00:00-05:00",
                                               "EST-HOS", counterparty_id="EST-DIS")])
    assert import_directory(engine, data_dir, realtime=False).files[-1].accepted == 1


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)



_CHARS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-.", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(body=st.text(alphabet="0123456789", min_size=13, max_size=13),
       expiry=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2049, 12, 31)),
       lot=_CHARS, serial=_CHARS, hri=st.booleans())
def test_any_pack_code_round_trips(body, expiry, lot, serial, hri):
    gtin = body + _check_digit(body)
    yymmdd = expiry.strftime("%y%m%d")
    text = (f"(01){gtin}(17){yymmdd}(10){lot}(21){serial}" if hri
            else f"01{gtin}17{yymmdd}10{lot}{FNC1}21{serial}")
    s = gs1.parse_scan(text)
    assert (s.gtin, s.expiry, s.lot, s.serial) == (gtin, expiry, lot, serial)
