"""A quote opened and never closed on its line costs that line alone, never the lines after it.

RFC 4180 lets a quoted field hold a line break, so a stray quote makes ``csv.reader`` read on
into the following lines (to the next quote, or the end of the file) and fold them into one
malformed record. A movements file has no field that legitimately spans lines unless the
record still has its columns: otherwise the line is rejected and the lines after it are read
again on their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from centinela.ingest import readers
from centinela.ingest.fields import MOVEMENTS
from centinela.ingest.readers import UNCLOSED, read_records
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement, Rejection
from tests.ingest_support import write_registry

HEADER = ",".join(MOVEMENTS.base_fields)
T = "2025-03-01T08:00:00-05:00"


def _line(i: int, lot: str = "L1", patient: str = "") -> str:
    return f"E{i},receipt,{T},EST-HOS,EE-00001,5,EST-DIS,{lot},2027-01-31,,,,,{patient},,,,,"


def _read(path: Path, fast: bool) -> list[tuple]:
    readers.FAST_LINES = fast
    try:
        return [(line, vals[0] if vals else None, err.reason if err else None, raw)
                for line, vals, err, raw in read_records(path, MOVEMENTS)]
    finally:
        readers.FAST_LINES = True


@pytest.mark.parametrize("fast", [True, False])
def test_every_line_after_an_unclosed_quote_is_read_on_its_own(tmp_path: Path, fast: bool):
    lines = [_line(i) for i in range(10)]
    lines[2] = _line(2, lot='"L1')  # opened, never closed on its line
    lines[5] = _line(5, lot='"L1"x')  # a quoted value with text after it: malformed, one line
    lines[7] = _line(7, lot='"L\n1"')  # a quoted line break with every column: one record
    lines[9] = _line(9, lot='"L1')  # opened on the last record: runs to the end of the file
    lines.append(_line(10))
    path = tmp_path / "movements.csv"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    got = _read(path, fast)
    by_line = {line: (key, reason) for line, key, reason, _raw in got}
    # Line 1 is the header, record i is on line i + 2 up to record 7, which takes lines 9 and
    # 10; record i > 7 is on line i + 3.
    assert by_line[4] == (None, UNCLOSED)
    assert by_line[12] == (None, UNCLOSED)
    assert by_line[7][0] is None and "malformed CSV" in by_line[7][1]
    accepted = [key for _line_no, key, reason, _raw in got if reason is None]
    assert accepted == ["E0", "E1", "E3", "E4", "E6", "E7", "E8", "E10"]
    assert [line for line, key, *_ in got if key in ("E7", "E8", "E10")] == [9, 11, 13]
    # What the rejected line held is kept, by column.
    raw = next(r for line, _k, _r, r in got if line == 4)
    assert raw["event_id"] == "E2" and raw["lot"] == '"L1'


def test_the_same_holds_for_a_file_that_is_not_utf8(tmp_path: Path):
    path = tmp_path / "movements.csv"
    body = (HEADER + "\n" + _line(0) + "\n" + _line(1, lot='"L1') + "\n" + _line(2)
            + "\n").encode() + _line(3, lot="L\udcff").encode("utf-8", "surrogateescape") + b"\n"
    path.write_bytes(body + (_line(4) + "\n").encode())
    got = _read(path, fast=True)
    assert [(line, key) for line, key, reason, _raw in got if reason is None] == [
        (2, "E0"), (4, "E2"), (6, "E4")]
    assert [(line, reason) for line, _k, reason, _raw in got if reason is not None] == [
        (3, UNCLOSED), (5, "texto no es UTF-8 / not valid UTF-8")]


def test_an_import_keeps_the_rows_after_a_stray_quote_and_no_document(engine, session, data_dir):
    write_registry(data_dir)
    lines = [_line(i, patient="") for i in range(6)]
    lines[1] = (f'E1,administer,{T},EST-HOS,EE-00001,1,,"L1,2027-01-31,,,,,DNI:46281937,,,,,')
    (data_dir / "movements.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n",
                                            encoding="utf-8")
    report = import_directory(engine, data_dir, realtime=False)
    fr = next(f for f in report.files if f.name == "movements.csv")
    assert (fr.read, fr.accepted, fr.rejected) == (6, 5, 1)
    assert session.scalar(select(func.count()).select_from(Movement)) == 5
    rej = session.scalars(select(Rejection).where(Rejection.source == "movements.csv")).one()
    assert rej.line == 3 and rej.reason == UNCLOSED
    assert rej.record["event_id"] == "E1"
    assert "46281937" not in str(rej.record)  # the document is never stored
    assert rej.record["patient_id"].startswith("PSN:")
