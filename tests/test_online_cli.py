"""``centinela online …`` through the CLI runner, on the shipped sample exports."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from centinela.cli import app

FIX = Path(__file__).parent / "fixtures" / "online"
runner = CliRunner()


def test_ingest_leads_lead_confirm_and_purge(db_url):
    res = runner.invoke(app, ["online", "ingest", str(FIX / "posts.csv"), str(FIX / "telegram" / "result.json"),
                              "--json"])
    assert res.exit_code == 0, res.output
    reports = [json.loads(line) for line in res.output.splitlines()]
    assert reports[0]["read"] == 8 and reports[1]["source_kind"] == "telegram"
    res = runner.invoke(app, ["online", "leads", "--json"])
    leads = [json.loads(line) for line in res.output.splitlines()]
    assert leads and leads[0]["score"] >= leads[-1]["score"]
    top = leads[0]["lead_id"]
    res = runner.invoke(app, ["online", "lead", top])
    assert res.exit_code == 0 and json.loads(res.output)["posts"]
    res = runner.invoke(app, ["online", "confirm", top, "--note", "verificado", "--actor", "ana"])
    assert res.exit_code == 0 and "confirmed → ALR-" in res.output
    res = runner.invoke(app, ["online", "purge", "--days", "30"])
    assert res.exit_code == 0 and json.loads(res.output)["retention_days"] == 30
    res = runner.invoke(app, ["online", "runs"])
    assert "posts.csv" in res.output and "read=8" in res.output


def test_classify_and_errors(db_url, tmp_path):
    res = runner.invoke(app, ["online", "classify", "Vendo fentanilo ampollas, delivery, yape 987654321"])
    out = json.loads(res.output)
    assert res.exit_code == 0 and out["is_offer"] and out["explanation"]["lexicon"]["fentanyl"]
    bad = tmp_path / "x.csv"
    bad.write_text("platform,texto\nfb,hola\n", encoding="utf-8")
    res = runner.invoke(app, ["online", "ingest", str(bad)])
    assert res.exit_code == 2 and "unknown column(s) ['texto']" in res.output
    res = runner.invoke(app, ["online", "confirm", "LEAD-NOPE", "--note", "x"])
    assert res.exit_code == 2 and "unknown lead" in res.output


def test_retrain_writes_user_model_with_feedback(db_url, tmp_path, monkeypatch):
    import centinela.online.model_store as ms

    small = [r for i, r in enumerate(ms.corpus_rows()) if i % 8 == 0]
    monkeypatch.setattr(ms, "corpus_rows", lambda: small)
    out = tmp_path / "model"
    res = runner.invoke(app, ["online", "retrain", "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / ms.MANIFEST_FILE).read_text())
    assert manifest["n_train"] == sum(r["split"] == "train" for r in small)
    assert ms.check(out)[0] is not None
