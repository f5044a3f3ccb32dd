"""Late results: a laboratory identification that reaches the system weeks after its seizure.

Forensic identifications (a fentanyl analogue, a nitazene) typically arrive weeks after the
seizure they analyse. The early warning windows its alerts by when a record happened (30 days);
a nitazene seized 40 days ago and identified today was never raised although it is news for the
authorities. A record is now judged by when it became known too (``recorded_at``, the time of
the import that brought it): a late result raises its alert once, says so with both dates, and
still counts on the day it happened in every series.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from centinela.alerts.models import Alert
from centinela.db import session_scope
from centinela.ews import detectors as ews_detectors
from centinela.ews.detect import DetectConfig, load_signals, series, substance_key
from centinela.ews.intake import import_overdoses_file, sync_seizures
from centinela.ews.models import Signal
from centinela.ews.scan import ScanParams
from centinela.ews.signals import record_signal, recorded_at
from centinela.ingest.service import import_directory
from centinela.ledger.records import ImportRun, Seizure
from centinela.lib.clock import lima_day

ISOTONITAZENE = "CCN(CC)CCn1c(Cc2ccc(OC(C)C)cc2)nc2cc([N+](=O)[O-])ccc21"
ISO_KEY = "OIOQREYBGDAYGT-UHFFFAOYSA-N"
FENTANYL_KEY = "PJMPHNIQZUBGLI-UHFFFAOYSA-N"
ACETYLFENTANYL = "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
CFG = DetectConfig(scan=ScanParams(n_sims=19))
HEADER = "seizure_id,occurred_at,ubigeo,agency,context,substance,smiles,form\n"


def _alerts(session, detector: str | None = None) -> list[Alert]:
    q = select(Alert).where(Alert.detector.like("ews_%"))
    if detector:
        q = q.where(Alert.detector == detector)
    return list(session.scalars(q.order_by(Alert.alert_id)))


def _import_late_nitazene(engine, data_dir, now, days_late=40, sid="LAB-2025-0917"):
    """The laboratory's report of a nitazene seized ``days_late`` days ago, imported an hour
    before ``now`` (the spec's seizures file, as ``centinela import`` reads it)."""
    seized = now - dt.timedelta(days=days_late)
    (data_dir / "seizures.csv").write_text(
        HEADER + f"{sid},{seized.isoformat()}+00:00,080101,PNP-DIRANDRO,street,"
        f"isotonitaceno,{ISOTONITAZENE},powder\n", encoding="utf-8")
    report = import_directory(engine, data_dir, now=now - dt.timedelta(hours=1))
    assert '"accepted": 1' in json.dumps(report.as_dict()), report.as_dict()
    return seized


def test_a_late_nitazene_result_raises_its_first_appearance_with_both_dates(engine, data_dir,
                                                                            now):
    seized = _import_late_nitazene(engine, data_dir, now)
    with session_scope(engine) as s:
        assert sync_seizures(s)["new"] == 1
        sig = s.scalar(select(Signal).where(Signal.source_id == "LAB-2025-0917"))
        assert sig.source_kind == "lab" and sig.inchikey == ISO_KEY
        assert sig.occurred_at == seized  # counted on the day it was seized ...
        assert recorded_at(sig) == now - dt.timedelta(hours=1)  # ... known when imported
        counts = ews_detectors.run(s, now, CFG)
        assert counts["ews_first"]["created"] == 1
        (alert,) = _alerts(s)
        assert alert.detector == "ews_first_national" and alert.subject_id == "08"
        assert alert.severity in ("high", "critical")
        ev = alert.evidence
        assert ev["late_result"] is True and ev["days_late"] == 40
        assert ev["date"] == ev["occurred_date"] == lima_day(seized).isoformat()
        assert ev["recorded_date"] == lima_day(now).isoformat()
        # the alert's window is the day of the seizure, not the day of the report
        assert lima_day(alert.window_start) == lima_day(seized)
        assert "resultado tardío" in alert.summary.lower()
        assert lima_day(seized).isoformat() in alert.summary
        assert lima_day(now).isoformat() in alert.summary and "40 días después" in alert.summary


def test_the_late_result_is_said_in_both_languages_on_the_alert_page(engine, data_dir, now):
    from centinela.web.evidence import explain
    from centinela.web.i18n import catalogs

    _import_late_nitazene(engine, data_dir, now)
    with session_scope(engine) as s:
        sync_seizures(s)
        ews_detectors.run(s, now, CFG, only=("ews_first",))
        (alert,) = _alerts(s)
        es = explain(alert, alert.evidence, "es")
        en = explain(alert, alert.evidence, "en")
    assert any(x.startswith("Resultado tardío") and "40 días después" in x for x in es.sentences)
    assert any(x.startswith("Late result") and "40 days later" in x for x in en.sentences)
    es_items = {i.key: i for i in es.items}
    en_items = {i.key: i for i in en.items}
    for key in ("late_result", "occurred_date", "recorded_date", "days_late"):
        for lang in ("es", "en"):
            assert f"evidence.{key}" in catalogs()[lang], (key, lang)
        assert "_" not in es_items[key].label and "_" not in en_items[key].label
    assert es_items["late_result"].value == "Sí" and en_items["late_result"].value == "Yes"
    assert "2025" in es_items["recorded_date"].value and "-" not in es_items["recorded_date"].value


def test_rerunning_sync_and_detection_never_duplicates_the_late_alert(engine, data_dir, now):
    _import_late_nitazene(engine, data_dir, now)
    with session_scope(engine) as s:
        sync_seizures(s)
        ews_detectors.run(s, now, CFG)
        first = [(a.alert_id, a.detector) for a in _alerts(s)]
    for later in (now, now + dt.timedelta(hours=6), now + dt.timedelta(days=1)):
        with session_scope(engine) as s:
            assert sync_seizures(s) == {"new": 0, "updated": 0, "unchanged": 1, "errors": 0}
            counts = ews_detectors.run(s, later, CFG)
            assert all(c["created"] == 0 for c in counts.values()), counts
            assert [(a.alert_id, a.detector) for a in _alerts(s)] == first
    with session_scope(engine) as s:
        # the record stays known at its import: a later sync does not make it news again
        sig = s.scalar(select(Signal).where(Signal.source_id == "LAB-2025-0917"))
        assert recorded_at(sig) == now - dt.timedelta(hours=1)
        # ... and once it has been known for longer than the window, it is no longer raised
        counts = ews_detectors.run(s, now + dt.timedelta(days=31), CFG, only=("ews_first",))
        assert counts["ews_first"] == {"created": 0, "updated": 0}


def test_counts_and_series_stay_by_the_day_it_happened(engine, data_dir, now):
    seized = _import_late_nitazene(engine, data_dir, now)
    with session_scope(engine) as s:
        sync_seizures(s)
        sig = s.scalar(select(Signal).where(Signal.source_id == "LAB-2025-0917"))
        start = lima_day(now) - dt.timedelta(days=119)
        x = series([sig], start, 120)[("08", ISO_KEY)]
        assert x[(lima_day(seized) - start).days] == 1 and x.sum() == 1
        assert x[-1] == 0  # not on the day the report arrived
        since = now - dt.timedelta(days=30)
        assert load_signals(s, since, now) == []  # by the day it happened: outside the window
        assert [x.source_id for x in load_signals(s, since, now, late=CFG)] == ["LAB-2025-0917"]
        # one old seizure is no unusual rise, wherever it is counted
        assert ews_detectors.run(s, now, CFG, only=("ews_aberration",))["ews_aberration"] == {
            "created": 0, "updated": 0}


def test_before_it_was_known_nothing_is_raised_and_old_signals_keep_their_rule(session, now):
    """Replaying the past over data imported since, and signals stored before the time they
    became known was kept: both are judged by when they happened, as before."""
    seized = now - dt.timedelta(days=40)
    record_signal(session, "lab", "L-1", seized, ubigeo="080101", substance="isotonitazene",
                  inchikey=ISO_KEY, payload={"identified_by": "structure"},
                  recorded_at=now - dt.timedelta(hours=1))
    legacy = record_signal(session, "lab", "L-2", seized, ubigeo="150101",
                           substance="carfentanil", inchikey="YDSDEBIZUNNPOB-UHFFFAOYSA-N",
                           payload={"identified_by": "structure"})
    legacy.payload = {"identified_by": "structure"}  # as written before recorded_at existed
    session.flush()
    before = now - dt.timedelta(days=2)  # the laboratory had not reported yet
    assert ews_detectors.run(session, before, CFG, only=("ews_first",))["ews_first"][
        "created"] == 0
    ews_detectors.run(session, now, CFG, only=("ews_first",))
    assert [a.evidence["source_id"] for a in _alerts(session)] == ["L-1"]


def test_a_late_result_in_a_new_department_raises_a_departmental_first(session, now):
    record_signal(session, "lab", "L-LIMA", now - dt.timedelta(days=100), ubigeo="150101",
                  substance="isotonitazene", inchikey=ISO_KEY,
                  payload={"identified_by": "structure"},
                  recorded_at=now - dt.timedelta(days=99))
    record_signal(session, "lab", "L-CUSCO", now - dt.timedelta(days=45), ubigeo="080101",
                  substance="isotonitazene", inchikey=ISO_KEY,
                  payload={"identified_by": "structure"}, recorded_at=now - dt.timedelta(days=3))
    ews_detectors.run(session, now, CFG, only=("ews_first",))
    (alert,) = _alerts(session)
    assert alert.detector == "ews_first_department" and alert.subject_id == "08"
    assert alert.evidence["late_result"] and alert.evidence["days_late"] == 42
    assert alert.evidence["national_first"]["department"] == "15"


def test_a_result_reported_long_after_is_history_not_news(session, now):
    """A backfill (records known more than ``late_max_days`` after they happened) is counted,
    never announced as new."""
    record_signal(session, "lab", "OLD-1", now - dt.timedelta(days=200), ubigeo="080101",
                  substance="isotonitazene", inchikey=ISO_KEY,
                  payload={"identified_by": "structure"}, recorded_at=now - dt.timedelta(hours=1))
    assert ews_detectors.run(session, now, CFG, only=("ews_first",))["ews_first"][
        "created"] == 0
    wider = DetectConfig(scan=ScanParams(n_sims=19), late_max_days=365)
    assert ews_detectors.run(session, now, wider, only=("ews_first",))["ews_first"][
        "created"] == 1


def test_a_seizure_identified_later_is_known_when_the_identification_arrives(engine, now):
    """A seizure stored long ago by its reported name whose laboratory structure arrives
    today: its signal becomes a laboratory signal known today, raised as a late result."""
    seized = now - dt.timedelta(days=50)
    with session_scope(engine) as s:
        run = ImportRun(source="x", channel="cli", started_at=seized + dt.timedelta(days=1))
        s.add(run)
        s.flush()
        s.add(Seizure(seizure_id="DIR-77", occurred_at=seized, ubigeo="040101",
                      agency="PNP-DIRANDRO", substance="polvo blanco", content_hash="h1",
                      import_id=run.id))
    with session_scope(engine) as s:
        sync_seizures(s, now=seized + dt.timedelta(days=1))
        assert ews_detectors.run(s, now, CFG)["ews_first"]["created"] == 0
    with session_scope(engine) as s:
        sz = s.get(Seizure, "DIR-77")
        sz.substance, sz.smiles, sz.content_hash = "fentanilo", ACETYLFENTANYL, "h2"
    with session_scope(engine) as s:
        assert sync_seizures(s, now=now - dt.timedelta(hours=2))["updated"] == 1
        sig = s.scalar(select(Signal).where(Signal.source_id == "DIR-77"))
        assert sig.source_kind == "lab" and recorded_at(sig) == now - dt.timedelta(hours=2)
        ews_detectors.run(s, now, CFG)
        found = {a.detector: a for a in _alerts(s)}
        assert {"ews_first_national", "ews_name_mismatch"} <= set(found)
        for a in found.values():
            assert a.evidence["late_result"] and a.evidence["days_late"] == 50
            assert "resultado tardío" in a.summary.lower()


def test_a_late_confirmed_overdose_is_known_at_its_import(session, data_dir, now):
    run = ImportRun(source="overdoses.csv", channel="cli", started_at=now - dt.timedelta(hours=3))
    session.add(run)
    session.flush()
    f = data_dir / "overdoses.csv"
    when = (now - dt.timedelta(days=35)).isoformat() + "+00:00"
    f.write_text("event_id,occurred_at,ubigeo,setting,confirmed_substances,reporter\n"
                 f"T1,{when},130101,death,isotonitazene,HOSP-9\n", encoding="utf-8")
    assert import_overdoses_file(session, f, run.id)["accepted"] == 1
    sig = session.scalar(select(Signal).where(Signal.source_kind == "overdose"))
    assert recorded_at(sig) == now - dt.timedelta(hours=3) and substance_key(sig) == ISO_KEY
    ews_detectors.run(session, now, CFG, only=("ews_first",))
    (alert,) = _alerts(session)
    assert alert.detector == "ews_first_national" and alert.evidence["days_late"] == 35


def test_record_signal_keeps_when_a_record_became_known(session, now):
    t0, t1 = now - dt.timedelta(days=5), now
    sig = record_signal(session, "citizen", "TIP-1", t0, ubigeo="150101", substance="fentanyl",
                        recorded_at=t0)
    assert recorded_at(sig) == t0
    # the same identification re-sent: still known since t0 (a caller's payload cannot move it)
    sig = record_signal(session, "citizen", "TIP-1", t0, ubigeo="150101", substance="fentanyl",
                        payload={"recorded_at": t1.isoformat()}, recorded_at=t1)
    assert recorded_at(sig) == t0
    # another substance is new information, known now
    sig = record_signal(session, "citizen", "TIP-1", t0, ubigeo="150101",
                        substance="carfentanil", recorded_at=t1)
    assert recorded_at(sig) == t1
    assert session.scalar(select(func.count()).select_from(Signal)) == 1


# --- `centinela detect` syncs seizures into early-warning signals ------------------------------

@pytest.fixture
def cli():
    from centinela.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_centinela_detect_syncs_seizures_and_raises_the_late_result_once(engine, data_dir, now,
                                                                        cli):
    """``centinela import`` stores seizures; ``centinela detect`` (the scheduled detection
    command) turns them into signals before the early-warning rules run, idempotently."""
    _import_late_nitazene(engine, data_dir, now)
    when = now.isoformat() + "+00:00"
    r = cli("detect", "--now", when, "--only", "ews_first,ews_name_mismatch", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["ews_sync"]["new"] == 1
    assert {d["name"]: d["new"] for d in out["detectors"]}["ews_first"] == 1
    r = cli("detect", "--now", when, "--only", "ews_first,ews_name_mismatch", "--json")
    out = json.loads(r.output)
    assert out["ews_sync"] == {"new": 0, "updated": 0, "unchanged": 1, "errors": 0}
    assert {d["name"]: d["new"] for d in out["detectors"]}["ews_first"] == 0
    r = cli("detect", "--now", when, "--only", "ews_first")
    assert r.exit_code == 0 and "Total: 0 nuevas" in r.output, r.output
    with session_scope(engine) as s:
        (alert,) = _alerts(s)
        assert alert.evidence["late_result"] and alert.evidence["days_late"] == 40
        assert s.scalar(select(func.count()).select_from(Signal)) == 1


def test_centinela_detect_no_sync_and_other_detectors_leave_seizures_alone(engine, data_dir,
                                                                           now, cli):
    _import_late_nitazene(engine, data_dir, now)
    when = now.isoformat() + "+00:00"
    r = cli("detect", "--now", when, "--only", "ews_first", "--no-sync", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["ews_sync"] is None, r.output
    r = cli("detect", "--now", when, "--only", "loss_report", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["ews_sync"] is None, r.output
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Signal)) == 0
        assert _alerts(s) == []


@pytest.mark.parametrize("lang", ["es", "en"])
def test_late_alert_pages_say_it_in_words(as_user, world, session, now, lang):
    """The alert page of a late result says so, with both dates, in the reader's language (no
    raw key, no English on the Spanish evidence table)."""
    from tests.test_alert_charts import SNAKE, visible_text
    from tests.test_ews_alert_pages import ENGLISH

    run = ImportRun(source="lab.csv", channel="cli", started_at=now - dt.timedelta(hours=1))
    session.add(run)
    session.flush()
    session.add(Seizure(seizure_id="LAB-PIU-4", occurred_at=now - dt.timedelta(days=40),
                        ubigeo="200101", agency="PNP-DIRANDRO", substance="fentanilo",
                        smiles=ACETYLFENTANYL, form="powder", context="street",
                        content_hash="p4", import_id=run.id))
    session.flush()
    sync_seizures(session)
    ews_detectors.run(session, now, CFG, only=("ews_first", "ews_name_mismatch"))
    session.commit()
    alerts = {a.detector: a for a in _alerts(session)}
    assert set(alerts) == {"ews_first_national", "ews_name_mismatch"}
    client = as_user("analista")
    late = "Resultado tardío" if lang == "es" else "Late result"
    later = "40 días después" if lang == "es" else "40 days later"
    for detector, alert in alerts.items():
        html = client.get(f"/alerts/{alert.alert_id}?lang={lang}").text
        text = visible_text(html)
        assert late in text and later in text, (detector, text[:2000])
        assert detector not in text and not SNAKE.findall(text), (detector, SNAKE.findall(text))
        table = visible_text(html.split('id="evidence"', 1)[1].split("</section>", 1)[0])
        assert ("Fecha de ingreso al sistema" if lang == "es"
                else "Date it reached the system") in table, (detector, table)
        if lang == "es":
            import re

            assert not [w for w in ENGLISH if re.search(rf"\b{w}\b", table)], (detector, table)
