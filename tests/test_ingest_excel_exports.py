"""What Excel in a Spanish locale writes when asked for "CSV": semicolons, or UTF-16 "Unicode
text". The file is refused (the format's columns are comma-separated, its text UTF-8) with a
reason that says so and how to save it right, not "unknown column 'a;b;c'"; a UTF-8 BOM is
read as nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from centinela.ingest.fields import MOVEMENTS
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement
from tests.ingest_support import write_registry

T = "2025-03-01T08:00:00-05:00"
ROWS = [["E1", "receipt", T, "EST-HOS", "EE-00001", "5", "EST-DIS", "L1", "2027-01-31"]]


def _write(data_dir, sep: str, encoding: str) -> None:
    cols = list(MOVEMENTS.base_fields)
    rows = [r + [""] * (len(cols) - len(r)) for r in ROWS]
    text = "\n".join(sep.join(r) for r in [cols, *rows]) + "\n"
    (data_dir / "movements.csv").write_bytes(text.encode(encoding))


@pytest.mark.parametrize(("sep", "encoding", "said"), [
    (";", "utf-8", "punto y coma"),
    ("\t", "utf-8", "tabuladores"),
    (",", "utf-16", "UTF-16"),
    (";", "utf-16-le", "UTF-16"),
])
def test_excel_exports_are_refused_with_what_to_do(engine, session, data_dir, sep, encoding, said):
    write_registry(data_dir)
    _write(data_dir, sep, encoding)
    report = import_directory(engine, data_dir, realtime=False)
    fr = next(f for f in report.files if f.name == "movements.csv")
    assert fr.status == "refused" and said in fr.error and "CSV UTF-8" in fr.error
    assert session.scalar(select(func.count()).select_from(Movement)) == 0


def test_a_utf8_byte_order_mark_is_read_as_nothing(engine, session, data_dir):
    write_registry(data_dir)
    _write(data_dir, ",", "utf-8-sig")
    report = import_directory(engine, data_dir, realtime=False)
    fr = next(f for f in report.files if f.name == "movements.csv")
    assert (fr.read, fr.accepted) == (1, 1)


def test_a_windows_1252_csv_is_refused_whole_with_what_to_do(tmp_path):
    """Excel's plain CSV on Spanish Windows: read line by line it would lose exactly the
    accented records and keep the others; it is refused whole, with the Excel hint."""
    from centinela.ingest.fields import ESTABLISHMENTS
    from centinela.ingest.readers import FileRefused, read_records

    path = tmp_path / "establishments.csv"
    path.write_bytes(("establishment_id,name,kind,sector,ubigeo,authorized_controlled\n"
                      "EST-1,Botica Jesús María,pharmacy,private,150113,true\n"
                      "EST-2,Botica Lima,pharmacy,private,150101,true\n").encode("cp1252"))
    with pytest.raises(FileRefused, match="Windows-1252"):
        list(read_records(path, ESTABLISHMENTS))
    # A UTF-8 file with one corrupt byte keeps its good lines (only that line is rejected).
    path.write_bytes(("establishment_id,name,kind,sector,ubigeo,authorized_controlled\n"
                      "EST-1,Botica Jesús María,pharmacy,private,150113,true\n").encode()
                     + b"EST-2,Botica \xe9,pharmacy,private,150101,true\n")
    items = list(read_records(path, ESTABLISHMENTS))
    assert [err is None for _line, _vals, err, _raw in items] == [True, False]
