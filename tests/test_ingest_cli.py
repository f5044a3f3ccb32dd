"""``centinela import DIR`` as the spec's command-line contract."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from centinela.cli import app
from centinela.ledger.records import ImportRun, Movement
from tests.ingest_support import movement, write_csv, write_registry

T = "2025-03-01T10:00:00-05:00"


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_import_prints_per_file_summary_and_rejections(db_url, session, data_dir):
    write_registry(data_dir)
    rows = [movement(f"C{i}", "receipt", T, "EST-HOS", "2", counterparty_id="EST-DIS")
            for i in range(25)]
    rows += [movement(f"B{i}", "receipt", T, "EST-HOS", "-2", counterparty_id="EST-DIS")
             for i in range(23)]
    write_csv(data_dir, "movements", rows)
    result = _invoke("import", str(data_dir))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "establishments.csv: 4 leídos/read, 4 aceptados/accepted" in out
    assert "movements.csv: 48 leídos/read, 25 aceptados/accepted" in out
    assert "23 rechazados/rejected" in out
    assert "Primeros 20 rechazos / first 20 rejections:" in out
    assert "movements.csv:27 quantity: debe ser positiva / must be positive" in out
    assert out.count("movements.csv:") == 21  # the summary line plus 20 reasons
    assert "… 3 más / more: centinela rejections --import 1" in out
    assert session.scalar(select(func.count()).select_from(Movement)) == 25
    # Every rejection, not the first 20 only; as JSON lines too.
    listed = _invoke("rejections", "--import", "1")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("must be positive") == 23
    rows = [json.loads(x) for x in _invoke("rejections", "--json", "--offset", "20").output.splitlines()]
    assert [r["line"] for r in rows] == [47, 48, 49] and rows[0]["field"] == "quantity"


def test_import_json_summary_and_rerun_is_noop(db_url, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", [movement("C1", "receipt", T, "EST-HOS", "2",
                                               counterparty_id="EST-DIS")])
    first = json.loads(_invoke("import", str(data_dir), "--json").output)
    second = json.loads(_invoke("import", str(data_dir), "--json").output)
    assert first["status"] == "completed" and first["totals"]["accepted"] == 11
    assert second["totals"]["accepted"] == 0 and second["totals"]["duplicates"] == 11
    assert second["import_id"] == first["import_id"] + 1
    assert {f["file"] for f in second["files"]} == {
        "establishments.csv", "professionals.csv", "products.csv", "movements.csv"}


def test_missing_directory_and_empty_directory_fail(db_url, tmp_path, data_dir):
    missing = _invoke("import", str(tmp_path / "nope"))
    assert missing.exit_code != 0 and "directory not found" in missing.output
    empty = _invoke("import", str(data_dir))
    assert empty.exit_code != 0 and "no reporting-format files" in empty.output


def test_all_files_refused_is_nothing_readable(db_url, engine, data_dir):
    (data_dir / "movements.csv").write_text("evento,fecha\nX,2025-01-01\n", encoding="utf-8")
    result = _invoke("import", str(data_dir))
    assert result.exit_code == 1
    assert "column 'evento' is not in the reporting format" in result.output
    from centinela.db import session_scope

    with session_scope(engine) as s:
        run = s.scalar(select(ImportRun))
        assert run.status == "completed" and run.rejected == 1


def test_crash_rolls_back_and_exits_nonzero(db_url, data_dir, monkeypatch):
    from centinela.ingest import pipeline

    def boom(*a, **k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(pipeline, "process_movements", boom)
    write_registry(data_dir)
    write_csv(data_dir, "movements", [movement("C1", "receipt", T, "EST-HOS", "2",
                                               counterparty_id="EST-DIS")])
    result = _invoke("import", str(data_dir))
    assert result.exit_code == 1 and "rolled back" in result.output
    monkeypatch.undo()
    ok = _invoke("import", str(data_dir), "--json")
    assert json.loads(ok.output)["files"][0]["accepted"] == 4  # nothing had been kept
