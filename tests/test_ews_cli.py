"""``centinela ews …`` through the CLI runner, on this test's database."""

import json

from typer.testing import CliRunner

from centinela.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["ews", *args])


def test_classify_and_tier(db_url):
    r = run("classify", "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1C")
    assert r.exit_code == 0 and "3-methylfentanyl" in r.output
    r = run("classify", "COCC(=O)N(c1ccc(Cl)cc1)C1CCN(CCc2ccccc2)CC1", "--json")
    data = json.loads(r.output)
    assert data["category"] == "fentanyl_related" and data["matched_clauses"] == ["D", "E"]
    assert run("classify", "polvo blanco").exit_code == 2
    r = run("tier", "--mass-mg", "0.8", "--json")
    assert json.loads(r.output)["tier"] == "attenuated"
    r = run("tier", "--units", "10", "--strength-mg", "0.5", "--substance", "fentanilo")
    assert "agravada" in r.output.lower() and "asesoría legal" in r.output
    assert run("tier").exit_code == 2
    assert "carfentanil" in run("substances").output


def test_import_detect_bulletin_export(db_url, data_dir, tmp_path):
    f = data_dir / "overdoses.csv"
    f.write_text(
        "event_id,occurred_at,ubigeo,setting,confirmed_substances,reporter\n"
        "A1,2025-12-28T10:00:00-05:00,150101,emergency_department,isotonitazene,HOSP-1\n"
        "A2,2025-12-29T10:00:00-05:00,150101,death,isotonitazene,HOSP-1\n"
        "A3,2025-12-29T10:00:00-05:00,150101,death,isotonitazene,HOSP 1\n", encoding="utf-8")
    r = run("import-overdoses", str(f), "--json")
    data = json.loads(r.output)
    assert data["accepted"] == 2 and data["rejected"] == 1
    assert data["rejections"][0]["field"] == "reporter"
    r = run("detect", "--now", "2025-12-31T12:00:00-05:00", "--sims", "19", "--json")
    out = json.loads(r.output)
    assert out["detectors"]["ews_first"]["created"] == 1 and out["synced"]["new"] == 0
    r = run("bulletin", "--substance", "isotonitazene", "--now", "2025-12-31T12:00:00-05:00",
            "--out", str(tmp_path / "b"), "--json")
    b = json.loads(r.output)
    assert b["number"] == "EWS-2025-0001" and b["content"]["counts"]["deaths"] == 1
    assert (tmp_path / "b" / "EWS-2025-0001.pdf").read_bytes().startswith(b"%PDF")
    r = run("export", "--since", "2025-12-01", "--until", "2025-12-31", "--out",
            str(tmp_path / "x.json"))
    assert r.exit_code == 0
    doc = json.loads((tmp_path / "x.json").read_text())
    assert doc["count"] == 2 and doc["incidents"][0]["substance"]["name"] == "isotonitazene"
