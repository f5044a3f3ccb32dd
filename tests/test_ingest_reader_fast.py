"""The CSV reader's fast path (plain lines split at commas) reads exactly what csv.reader reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from centinela.ingest import readers
from centinela.ingest.fields import MOVEMENTS
from centinela.ingest.readers import read_records

HEADER = ",".join(MOVEMENTS.base_fields)
PLAIN = "E1,administer,2025-03-01T08:00:00-05:00,EST-1,EE-1,0.5,,L1,2027-01-31,,,CMP-1,,DNI:1,F,1980,,,"


def _both(path: Path) -> tuple[list, list]:
    def read() -> list:
        return [(line, vals, err.field if err else None, err.reason if err else None, raw)
                for line, vals, err, raw in read_records(path, MOVEMENTS)]

    fast = read()
    readers.FAST_LINES = False
    try:
        slow = read()
    finally:
        readers.FAST_LINES = True
    return fast, slow


CASES = {
    "plain lf": HEADER + "\n" + PLAIN + "\n" + PLAIN.replace("E1", "E2") + "\n",
    "plain crlf, no final newline": HEADER + "\r\n" + PLAIN + "\r\n" + PLAIN.replace("E1", "E2"),
    "spaces and tabs to strip": HEADER + "\n" + PLAIN.replace("E1,", " E1 ,").replace(
        "EST-1", "\tEST-1 ") + "\n" + PLAIN.replace(",F,", ", F ,\u00a0") + "\n",
    "blank and space-only lines": HEADER + "\n\n   \n" + PLAIN + "\n\r\n,,\n" + PLAIN + "\n",
    "quoted values, a comma and a newline inside": HEADER + "\n" + PLAIN.replace(
        "L1", '"L,1"') + "\n" + PLAIN.replace("L1", '"L\n1"') + "\n" + PLAIN + "\n",
    "malformed quotes then plain lines": HEADER + "\n" + PLAIN.replace("L1", 'L"1') + "\n"
        + PLAIN.replace("L1", '"L"1"') + "\n" + PLAIN + "\n",
    "unterminated quote at the end": HEADER + "\n" + PLAIN + "\n" + PLAIN.replace("L1", '"L1'),
    "too few and too many fields": HEADER + "\n" + PLAIN[:40] + "\n" + PLAIN + ",x\n" + PLAIN
        + "\n",
    "control characters and NUL": HEADER + "\n" + PLAIN.replace("L1", "L\x0b1") + "\n"
        + PLAIN.replace("L1", "L\x001") + "\n" + PLAIN.replace("L1", "L\r1") + "\n" + PLAIN + "\n",
    "lone CR line ends": HEADER + "\r" + PLAIN + "\r" + PLAIN + "\r",
    "non-ASCII text": HEADER + "\n" + PLAIN.replace("L1", "Lñ1").replace("E1", "É1") + "\n",
    "quoted header, columns reordered and absent": '"event_type",event_id,occurred_at,'
        'establishment_id,product_code,quantity\nadminister,E1,2025-03-01T08:00:00,EST-1,EE-1,1\n'
        '"dispense",E2,2025-03-01T08:00:00,EST-1,EE-1,1\n',
    "field over the csv limit": HEADER + "\n" + PLAIN.replace("L1", "L" * 140_000) + "\n"
        + PLAIN + "\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_path_reads_what_csv_reads(tmp_path: Path, name: str) -> None:
    path = tmp_path / "movements.csv"
    path.write_bytes(CASES[name].encode("utf-8"))
    fast, slow = _both(path)
    assert fast == slow
    assert fast  # every case has records


def test_bom_and_bad_utf8_files(tmp_path: Path) -> None:
    path = tmp_path / "movements.csv"
    path.write_bytes(("\ufeff" + HEADER + "\n" + PLAIN + "\n").encode())
    fast, slow = _both(path)
    assert fast == slow and fast[0][1][0] == "E1"
    path.write_bytes((HEADER + "\n" + PLAIN + "\n").encode() + b"E2,\xff\xfe\n"
                     + PLAIN.replace("L1", "L\udcff").encode("utf-8", "surrogateescape")
                     + b"\n" + (PLAIN + "\n").encode())
    fast, slow = _both(path)
    assert fast == slow and [x[0] for x in fast] == [2, 3, 4, 5]
    assert "UTF-8" in fast[2][3]
