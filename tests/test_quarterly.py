"""The quarterly report: every figure against a small data set computed by hand, the files,
reproducibility and delivery, and the admin page."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from centinela.alerts.models import Alert, CaseEvent, Delivery
from centinela.certification.models import Certificate
from centinela.cli import app as cli_app
from centinela.ews.models import Bulletin, Signal
from centinela.ledger.records import ImportRun, Rejection, Seizure
from centinela.online.models import OnlineLead
from centinela.public.models import CitizenReport
from centinela.quarterly.figures import Quarter, QuarterError, data_cutoff, quarter_figures
from centinela.quarterly.institutions import institution_type
from centinela.quarterly.models import QuarterlyReport
from centinela.quarterly.service import produce
from centinela.reference.ubigeo import department_population, districts
from centinela.registry.models import Establishment
from tests.detect_factory import FENT_AMP, MORPH_TAB, base_products, mv, prof
from tests.web_support import PASSWORD, login

T = dt.datetime
AS_OF = T(2026, 10, 31, 12)


def _est(session, eid, name, sector, ubigeo, kind="hospital"):
    session.add(Establishment(establishment_id=eid, name=name, kind=kind, sector=sector,
                              ubigeo=ubigeo, department=ubigeo[:2], authorized_controlled=True))


def _alert(session, aid, detector, window_end, created, department="15", routed=("DIGEMID",),
           status="new", outcome=None):
    session.add(Alert(alert_id=aid, dedup_key=aid, detector=detector, subject_kind="region",
                      subject_id=f"S-{aid}", department=department, severity="high", score=1.0,
                      window_start=window_end - dt.timedelta(days=3), window_end=window_end,
                      summary=f"resumen {aid}", evidence={}, routed_to=list(routed),
                      topics=["diversion"], status=status, outcome=outcome, created_at=created,
                      updated_at=created))


def _case(session, aid, at, frm, to, outcome=None):
    session.add(CaseEvent(alert_id=aid, at=at, actor="analista", action="status",
                          from_status=frm, to_status=to, outcome=outcome, note=""))


@pytest.fixture
def hand(session):
    """The small data set; each figure below is computed by hand from it."""
    base_products(session)  # FEN-AMP 0.1 mg, MOR-30 30 mg
    _est(session, "H-MINSA", "Hospital Regional Honorio Delgado", "public", "040101")
    _est(session, "H-ESSALUD", "Hospital III EsSalud José Cayetano Heredia", "public", "200101")
    _est(session, "H-FAP", "Hospital Central FAP", "public", "150101")
    _est(session, "P1", "Botica Uno", "private", "150101", "pharmacy")
    _est(session, "P2", "Botica Dos", "private", "070101", "pharmacy")
    _est(session, "IMP1", "Importadora Uno", "private", "150101", "importer")
    run = ImportRun(source="x", channel="cli", started_at=T(2026, 10, 20, 12), status="completed")
    session.add(run)
    session.flush()
    # 2026Q3 (Lima: 2026-07-01 05:00 UTC to 2026-10-01 05:00 UTC).
    mv(session, "administer", "H-MINSA", FENT_AMP, 10, T(2026, 7, 15, 15))  # 1.0 mg, dept 04
    mv(session, "dispense", "H-ESSALUD", MORPH_TAB, 2, T(2026, 8, 3, 15))  # 60 mg morphine, 20
    mv(session, "dispense", "P1", FENT_AMP, 20, T(2026, 8, 1, 15), import_id=run.id)  # 2.0 mg, late
    mv(session, "administer", "H-FAP", FENT_AMP, 5, T(2026, 10, 1, 4, 59))  # Sep 30 Lima: 0.5 mg
    mv(session, "administer", "H-FAP", FENT_AMP, 5, T(2026, 7, 1, 4))  # Jun 30 Lima: Q2
    mv(session, "receipt", "P1", FENT_AMP, 100, T(2026, 7, 2, 15))
    mv(session, "loss", "P1", FENT_AMP, 3, T(2026, 8, 10, 15))  # 0.3 mg lost
    mv(session, "count", "P1", FENT_AMP, 70, T(2026, 9, 1, 15))  # book 67 (see below)
    mv(session, "import", "IMP1", FENT_AMP, 1000, T(2026, 7, 5, 15))  # 100 mg
    mv(session, "transfer_out", "IMP1", FENT_AMP, 500, T(2026, 7, 6, 15), counterparty_id="P1")
    # 2026Q2: 2.0 mg + the 0.5 mg at the edge = 2.5 mg fentanyl; P2 (Callao) 30 mg morphine.
    mv(session, "administer", "H-MINSA", FENT_AMP, 20, T(2026, 5, 10, 15))
    mv(session, "dispense", "P2", MORPH_TAB, 1, T(2026, 5, 11, 15))
    # 2025Q3: 1.0 mg fentanyl.
    mv(session, "dispense", "P1", FENT_AMP, 10, T(2025, 8, 1, 15))
    # Seizures of the quarter: 5 mg at 50 % = 2.5 mg (basic), 0.8 mg (attenuated), morphine
    # (not fentanyl: no tier); one of Q2 left out.
    for sid, at, sub, mass, purity in (("S1", T(2026, 7, 20), "fentanyl", 5.0, 50.0),
                                       ("S2", T(2026, 8, 20), "fentanyl", 0.8, None),
                                       ("S3", T(2026, 9, 20), "morphine", 100.0, None),
                                       ("S0", T(2026, 6, 1), "fentanyl", 9.0, None)):
        session.add(Seizure(seizure_id=sid, occurred_at=at, ubigeo="150101", agency="PNP-DIRANDRO",
                            context="street", substance=sub, net_mass_mg=mass,
                            purity_percent=purity, content_hash=sid * 16))
    session.add(Signal(source_kind="overdose", source_id="O1", occurred_at=T(2026, 8, 5),
                       department="15", substance="fentanyl", payload={}))
    session.add(Bulletin(number="AT-2026-007", year=2026, seq=7, issued_at=T(2026, 8, 12, 15),
                         title="Carfentanilo en Lima", severity="high", departments=["15"],
                         window_start=T(2026, 7, 12), window_end=T(2026, 8, 12), content={}))
    # Alerts with evidence ending in Q3; outcomes from case events up to AS_OF.
    _alert(session, "A1", "loss_report", T(2026, 8, 1), T(2026, 8, 1, 10), routed=("DIGEMID", "DIRIS-LC"))
    _case(session, "A1", T(2026, 8, 1, 12), "new", "triaged")  # 2 h to triage
    _case(session, "A1", T(2026, 8, 20), "triaged", "closed", "confirmed")
    _alert(session, "A2", "loss_report", T(2026, 9, 1), T(2026, 9, 1, 10))
    _case(session, "A2", T(2026, 9, 1, 14), "new", "closed", "false_positive")  # 4 h
    _alert(session, "A3", "uncertified_handler", T(2026, 9, 10), T(2026, 9, 10))  # open
    _alert(session, "A4", "regional_outlier", T(2026, 9, 15), T(2026, 9, 15), department="04",
           routed=("GERESA-04",))
    _case(session, "A4", T(2026, 9, 15, 6), "new", "closed", "justified")  # 6 h
    _alert(session, "A5", "loss_report", T(2026, 6, 1), T(2026, 6, 1))  # Q2: left out
    _alert(session, "A6", "loss_report", T(2026, 9, 20), T(2026, 9, 20))
    _case(session, "A6", T(2026, 11, 15), "new", "closed", "confirmed")  # after AS_OF: open
    # Online leads and citizen reports.
    for lid, dep, status, seen in (("L1", "15", "open", T(2026, 7, 3)),
                                   ("L2", "20", "confirmed", T(2026, 9, 3)),
                                   ("L0", "15", "open", T(2026, 6, 3))):
        session.add(OnlineLead(lead_id=lid, status=status, department=dep, first_seen=seen,
                               last_seen=seen, created_at=seen, updated_at=seen))
    for rid, dep, kind, status, alert in (("R1", "15", "sale", "forwarded", "A1"),
                                          ("R2", "15", "sale", "received", None),
                                          ("R3", "04", "overdose", "closed", None)):
        at = T(2026, 8, 9)
        session.add(CitizenReport(report_id=rid, code_hash=rid * 32, channel="web", kind=kind,
                                  ubigeo=f"{dep}0101", department=dep, text="secreto", status=status,
                                  alert_id=alert, created_at=at, updated_at=at))
    # Certification on 2026-09-30.
    prof(session, "CMP-A", certified=dt.date(2026, 1, 10))  # 15, valid
    prof(session, "CQFP-B", role="pharmacist", ubigeo="040101")  # 04, missing
    prof(session, "CMP-C", certified=dt.date(2025, 8, 1), ubigeo="200101")  # 20, expired
    prof(session, "CQFP-D", role="pharmacist")  # 15, certificate table, expiring 2026-10-20
    prof(session, "CEP-N", role="nurse", certified=dt.date(2026, 3, 1))  # nurse, valid
    session.add(Certificate(certificate_id="C-D", professional_id="CQFP-D", issuer="CQFP",
                            issued_on=dt.date(2026, 8, 15), expires_on=dt.date(2026, 10, 20),
                            expiry_derived=False, content_hash="1" * 32, created_at=T(2026, 8, 15)))
    session.add(Rejection(import_id=run.id, source="movements.csv", line=4, record_type="movement",
                          field="quantity", kind="invalid", reason="no numérico", record={},
                          created_at=T(2026, 8, 2)))
    for day in (3, 4):  # one record's rejection, its file sent twice: one record
        session.add(Rejection(import_id=run.id, source="movements.csv", line=7,
                              record_type="movement", record_key="E-9", field="quantity",
                              kind="invalid", reason="no numérico", record={},
                              created_at=T(2026, 8, day)))
    session.commit()
    return session


def test_quarter_parsing_and_bounds():
    q = Quarter.parse("2026q3")
    assert q.utc_bounds() == (T(2026, 7, 1, 5), T(2026, 10, 1, 5))
    assert (q.shift(-1).label, q.shift(-4).label, q.shift(1).label) == ("2026Q2", "2025Q3", "2026Q4")
    with pytest.raises(QuarterError):
        Quarter.parse("2026-3")


def test_institution_types_are_derived_from_registry_and_names():
    assert institution_type("Hospital III EsSalud José Cayetano Heredia", "public", "200101") == "essalud"
    assert institution_type("Hospital Central FAP", "public", "150101") == "armed_police"
    assert institution_type("Botica Uno", "private", "150101") == "private"
    assert institution_type("Hospital Regional Honorio Delgado", "public", "040101") == "minsa"
    # From the shipped IPRESS list, though the name says nothing: an EsSalud hospital.
    assert institution_type("Hospital Iii Yanahuara", "public", "040126") == "essalud"
    assert institution_type(None, None, None, registered=False) == "unregistered"


def test_every_figure_against_the_hand_computed_set(hand):
    f = quarter_figures(hand, "2026Q3", AS_OF)
    pop = sum(department_population().values())
    c = f["consumption"]
    n = c["national"]
    assert (n["fentanyl_mg"], n["other_opioids_mg"]) == (3.5, 60.0)
    assert n["fentanyl_per_100k"] == round(3.5 * 1e5 / pop, 4)
    assert (n["previous_fentanyl_mg"], n["change_previous_fentanyl_pct"]) == (2.5, 40.0)
    assert (n["year_ago_fentanyl_mg"], n["change_year_ago_fentanyl_pct"]) == (1.0, 250.0)
    assert (n["previous_other_opioids_mg"], n["change_previous_other_opioids_pct"]) == (30.0, 100.0)
    assert n["change_year_ago_other_opioids_pct"] is None  # nothing a year before: no ratio
    subs = {s["substance"]: s for s in c["by_substance"]}
    assert (subs["fentanyl"]["mg"], subs["morphine"]["mg"], subs["morphine"]["previous_mg"]) == (3.5, 60.0, 30.0)
    deps = {d["department"]: d for d in c["by_department"]}
    assert len(deps) == 25
    assert (deps["04"]["fentanyl_mg"], deps["15"]["fentanyl_mg"], deps["20"]["other_opioids_mg"]) == (1.0, 2.5, 60.0)
    assert deps["04"]["fentanyl_per_100k"] == round(1.0 * 1e5 / department_population()["04"], 4)
    assert (deps["04"]["previous_fentanyl_mg"], deps["04"]["change_previous_fentanyl_pct"]) == (2.0, -50.0)
    assert (deps["15"]["previous_fentanyl_mg"], deps["15"]["year_ago_fentanyl_mg"]) == (0.5, 1.0)
    assert deps["07"]["previous_other_opioids_mg"] == 30.0
    inst = {i["institution"]: i for i in c["by_institution"]}
    assert {k: inst[k]["fentanyl_mg"] for k in inst} == {
        "minsa": 1.0, "essalud": 0.0, "armed_police": 0.5, "private": 2.0, "unregistered": 0.0}
    assert inst["essalud"]["other_opioids_mg"] == 60.0
    assert (inst["minsa"]["establishments"], inst["private"]["establishments"]) == (1, 1)
    assert inst["armed_police"]["previous_fentanyl_mg"] == 0.5
    sec = {s["sector"]: s for s in c["by_sector"]}
    assert (sec["public"]["fentanyl_mg"], sec["private"]["fentanyl_mg"]) == (1.5, 2.0)
    assert (sec["public"]["previous_fentanyl_mg"], sec["private"]["year_ago_fentanyl_mg"]) == (2.5, 1.0)
    assert [(t["quarter"], t["fentanyl_mg"]) for t in c["trend"]] == [
        ("2025Q3", 1.0), ("2025Q4", None), ("2026Q1", None), ("2026Q2", 2.5), ("2026Q3", 3.5)]
    assert c["comparison_data"] == {"previous": True, "year_ago": True}
    lima = {d["ubigeo"]: d for d in c["lima_callao_districts"]}
    assert lima["150101"]["fentanyl_mg"] == 2.5
    assert lima["150101"]["fentanyl_per_100k"] == round(2.5 * 1e5 / districts()["150101"].population, 4)
    assert all(u.startswith(("1501", "0701")) for u in lima)

    s = f["supply"]
    assert (s["import"]["mg"], s["import"]["movements"]) == (100.0, 1)
    assert (s["transfer_out"]["fentanyl_mg"], s["receipt"]["mg"]) == (50.0, 10.0)
    assert (s["loss"]["mg"], s["loss"]["by_department"]) == (0.3, {"15": 0.3})

    z = f["seizures"]
    assert z["count"] == 3
    assert z["by_tier"] == {"attenuated": 1, "basic": 1, "not_applicable": 1}
    assert z["fentanyl_class_mg"] == 3.3  # 2.5 pure + 0.8
    assert {s["substance"]: (s["count"], s["mass_mg"]) for s in z["by_substance"]} == {
        "fentanyl": (2, 3.3), "morphine": (1, 100.0)}
    assert z["by_agency"] == {"PNP-DIRANDRO": 3}

    e = f["early_warning"]
    assert (e["signals"], e["signals_by_source"]) == (1, {"overdose": 1})
    assert [b["number"] for b in e["bulletins"]] == ["AT-2026-007"]

    a = f["alerts"]
    assert a["raised"] == 5  # A1, A2, A3, A4, A6 (A5 ended in Q2)
    assert a["outcomes"] == {"confirmed": 1, "justified": 1, "false_positive": 1, "open": 2}
    assert a["precision_closed"] == round(1 / 3, 3)
    det = {d["detector"]: d for d in a["by_detector"]}
    assert (det["loss_report"]["raised"], det["loss_report"]["precision"]) == (3, 0.5)
    assert det["loss_report"]["open"] == 1  # A6 closed only after the cut-off
    assert det["uncertified_handler"]["precision"] is None
    assert det["regional_outlier"]["justified"] == 1
    assert a["triage_hours"] == {"n": 3, "median": 4.0, "p90": 6.0}
    auth = {r["authority_id"]: r["alerts"] for r in a["by_authority"]}
    assert auth == {"DIGEMID": 4, "DIRIS-LC": 1, "GERESA-04": 1}
    assert [(o["department"], o["state"]) for o in a["regional_outliers"]] == [("04", "justified")]

    oc = f["online_and_citizens"]
    assert oc["online_leads"] == {"count": 2, "by_department": {"15": 1, "20": 1},
                                  "by_status": {"confirmed": 1, "open": 1}}
    assert oc["citizen_reports"]["count"] == 3
    assert oc["citizen_reports"]["by_department"] == {"04": 1, "15": 2}
    assert oc["citizen_reports"]["with_alert"] == 1
    assert "secreto" not in json.dumps(f)  # nothing a reporter wrote reaches the report

    cert = f["certification"]
    assert cert["as_of"] == "2026-09-30"
    cdep = {d["department"]: d for d in cert["by_department"]}
    assert (cdep["15"]["certified"], cdep["15"]["total"], cdep["15"]["expiring_60d"]) == (2, 2, 1)
    assert (cdep["15"]["nurses_certified"], cdep["15"]["nurses_total"]) == (1, 1)
    assert (cdep["04"]["certified"], cdep["04"]["total"]) == (0, 1)
    assert (cdep["20"]["certified"], cdep["20"]["total"]) == (0, 1)
    assert (cert["national"]["certified"], cert["national"]["total"], cert["national"]["percent"]) == (2, 4, 50.0)
    prof_rows = {p["role"]: p for p in cert["by_profession"]}
    assert (prof_rows["prescriber"]["certified"], prof_rows["prescriber"]["expired"]) == (1, 1)
    assert (prof_rows["pharmacist"]["missing"], prof_rows["pharmacist"]["expiring_60d"]) == (1, 1)
    assert prof_rows["nurse"]["required"] is False

    q = f["data_quality"]
    # Q3 movements: 9 rows; only P1's dispense came through an import (20 Oct: 80 days late),
    # 1 of P1's 4 rows: not a majority, so P1 is not listed as a late reporter.
    assert (q["movements"], q["late_movements"], q["late_reporters_count"]) == (9, 1, 0)
    assert q["reporting_establishments"] == 5
    assert (q["silent_reporters_count"], q["silent_reporters"]) == (1, ["P2"])
    assert q["rejections"] == {"movement": 2}  # the re-sent record counts once
    assert q["top_rejection_reasons"] == [{"where": "movement.quantity (invalid)", "count": 2}]
    # P1's book at the count: -10 (2025 dispense) + 100 - 20 - 3 = 67; counted 70: +3 units.
    assert (q["counts_checked"], q["count_gaps"], q["count_gap_mg"]) == (1, 1, 0.3)
    assert q["count_gaps_by_department"] == {"15": 1}


def test_a_quarter_without_data_is_no_data_not_zero(hand):
    c = quarter_figures(hand, "2026Q1", AS_OF)["consumption"]  # nothing stored in 2025Q4/2025Q1
    assert c["comparison_data"] == {"previous": False, "year_ago": False}
    assert c["national"]["previous_fentanyl_mg"] is None
    assert c["national"]["change_year_ago_fentanyl_pct"] is None
    assert {d["year_ago_fentanyl_mg"] for d in c["by_department"]} == {None}
    assert c["national"]["fentanyl_mg"] == 0.0  # the quarter itself: measured, zero


def test_default_cutoff_is_a_function_of_the_database(hand):
    q = Quarter.parse("2026Q3")
    assert data_cutoff(hand, q) == T(2026, 11, 15)  # the last case event stored
    f = quarter_figures(hand, q)
    assert f["alerts"]["outcomes"]["open"] == 1  # A6 now confirmed


def test_files_are_reproducible_and_delivered_once(hand, tmp_path):
    out = tmp_path / "out"
    first = produce(hand, "2026Q3", out, T(2026, 11, 20), as_of=AS_OF)
    hand.commit()
    html = (out / "centinela-2026Q3.html").read_text(encoding="utf-8")
    pdf = (out / "centinela-2026Q3.pdf").read_bytes()
    figures = json.loads((out / "centinela-2026Q3.json").read_text(encoding="utf-8"))
    assert pdf.startswith(b"%PDF") and b"/Image" not in pdf  # vector charts, no raster image
    assert figures == json.loads(json.dumps(quarter_figures(hand, "2026Q3", AS_OF)))
    assert "Informe trimestral interinstitucional: tercer trimestre de 2026" in html and "<svg" in html
    assert html.count("<path ") >= 25 + 40  # the departments and the Lima/Callao districts
    queued = first.routing["queued"]
    assert {q["authority_id"] for q in queued} == {"DIGEMID", "PNP-DIRANDRO", "FISCALIA-TID"}
    second = produce(hand, "2026Q3", out, T(2026, 11, 21), as_of=AS_OF)
    hand.commit()
    assert second.digest == first.digest
    assert (out / "centinela-2026Q3.html").read_text(encoding="utf-8") == html
    assert (out / "centinela-2026Q3.pdf").read_bytes() == pdf
    assert second.routing["queued"] == [] and second.routing["already_queued"] == 3
    rows = list(hand.scalars(select(Delivery).where(Delivery.payload_kind == "quarterly")))
    assert len(rows) == 3 and rows[0].payload["pdf_url"] == "/admin/quarterly/2026Q3.pdf"
    assert hand.scalar(select(QuarterlyReport.digest)) == first.digest


def test_command_writes_the_three_files(hand, tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(cli_app, ["quarterly", "--quarter", "2026Q3", "--out", str(out),
                                   "--as-of", "2026-10-31T12:00:00", "--no-deliver"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        "centinela-2026Q3.html", "centinela-2026Q3.json", "centinela-2026Q3.pdf"]
    bad = CliRunner().invoke(cli_app, ["quarterly", "--quarter", "2026-3", "--out", str(out)])
    assert bad.exit_code != 0 and "YYYYQn" in bad.output


@pytest.fixture
def users(hand):
    from centinela.accounts.demo import seed_demo_users

    seed_demo_users(hand, password=PASSWORD)
    hand.commit()


def test_admin_page_lists_and_serves_the_report(users, app):
    client = login(app, "admin")
    r = client.post("/admin/quarterly", data={"quarter": "2026Q3"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/admin/quarterly")
    assert page.status_code == 200 and "2026Q3" in page.text and "DIGEMID (Pendiente)" in page.text
    pdf = client.get("/admin/quarterly/2026Q3.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    data = client.get("/admin/quarterly/2026Q3.json").json()
    assert data["quarter"] == "2026Q3"
    assert login(app, "policia").get("/admin/quarterly/2026Q3.pdf").status_code == 403


def test_certification_page_and_api_respect_the_region(users, app):
    national = login(app, "analista").get("/api/v1/certification/status").json()
    assert national["national"]["total"] == 4
    assert {d["department"] for d in national["departments"]} == {"04", "15", "20"}
    lima = login(app, "lima").get("/api/v1/certification/status").json()
    assert [d["department"] for d in lima["departments"]] == ["15"] and lima["national"] is None
    page = login(app, "lima").get("/certification")
    assert page.status_code == 200 and 'data-department="15"' in page.text
    assert 'data-department="04"' not in page.text
    assert login(app, "policia").get("/certification").status_code == 403
    inst = login(app, "sistema")
    r = inst.post("/api/v1/certificates", json={"records": [
        {"certificate_id": "K1", "professional_id": "CQFP-B", "issuer": "CQFP",
         "issued_on": "2026-09-01"},
        {"certificate_id": "K2", "professional_id": "NOPE", "issuer": "CQFP",
         "issued_on": "2026-09-01"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["rejections"][0]["field"] == "professional_id"


def test_count_checks_with_a_short_running_book_match_the_full_ledger(session):
    from centinela.ledger.stock import reconcile_counts
    from centinela.quarterly.figures import _count_checks

    base_products(session)
    for eid in ("P1", "P2", "P3"):
        _est(session, eid, eid, "private", "150101", "pharmacy")
    # P1: counted in March (outside the look-back) and August; P2: monthly; P3: never before.
    mv(session, "receipt", "P1", FENT_AMP, 100, T(2026, 1, 5))
    mv(session, "count", "P1", FENT_AMP, 98, T(2026, 3, 1))
    mv(session, "dispense", "P1", FENT_AMP, 10, T(2026, 7, 10))
    mv(session, "count", "P1", FENT_AMP, 85, T(2026, 8, 1))
    mv(session, "count", "P1", FENT_AMP, 85, T(2026, 9, 1))
    mv(session, "receipt", "P2", FENT_AMP, 50, T(2026, 5, 1), lot="L1")
    for month, counted in ((6, 50), (7, 49), (8, 47), (9, 47)):
        mv(session, "count", "P2", FENT_AMP, counted, T(2026, month, 2))
        mv(session, "count", "P2", FENT_AMP, counted, T(2026, month, 2, 1), lot="L1")
    mv(session, "receipt", "P3", FENT_AMP, 20, T(2025, 12, 1))
    mv(session, "count", "P3", FENT_AMP, 19, T(2026, 8, 15))
    session.commit()
    s0, s1 = Quarter.parse("2026Q3").utc_bounds()
    until = s1 - dt.timedelta(microseconds=1)

    def key(c):
        return (c.establishment_id, c.product_code, c.lot or "", c.counted_at)

    fast = sorted(_count_checks(session, s0, until), key=key)
    full = sorted(reconcile_counts(session, since=s0, until=until), key=key)
    assert [(c.event_id, c.expected, c.discrepancy_units) for c in fast] == \
        [(c.event_id, c.expected, c.discrepancy_units) for c in full]
    got = {(c.establishment_id, c.lot, c.counted_at.month): c.discrepancy_units for c in fast}
    assert got[("P1", None, 8)] == -3.0  # 98 - 10 = 88 expected, 85 counted
    assert got[("P3", None, 8)] == -1.0
    assert got[("P2", "L1", 7)] == -1.0


def test_a_pharmacist_reads_their_own_standing_and_reminders(hand, app):
    from centinela.accounts.service import create_user
    from centinela.certification.progress import send_reminders

    prof(hand, "CQFP-04321", role="pharmacist")
    hand.add(Certificate(certificate_id="C-E", professional_id="CQFP-04321", issuer="CQFP",
                         issued_on=dt.date(2026, 8, 15), expires_on=dt.date(2026, 10, 20),
                         expiry_derived=False, content_hash="2" * 32, created_at=T(2026, 8, 15)))
    create_user(hand, "farma-d", PASSWORD, "pharmacist", professional_id="CQFP-04321")
    create_user(hand, "ana-q", PASSWORD, "national_analyst")
    send_reminders(hand, dt.date(2026, 9, 30), T(2026, 9, 30, 12))
    hand.commit()
    app.state.clock = lambda: T(2026, 9, 30, 17)
    me = login(app, "farma-d").get("/api/v1/certification/me").json()
    assert (me["professional_id"], me["state"], me["valid_until"]) == ("CQFP-04321", "expiring", "2026-10-20")
    assert [r["state"] for r in me["reminders"]] == ["expiring"]
    assert "2026-10-20" in me["reminders"][0]["message"]
    # The same on a page of their own, linked from their menu, in both languages.
    client = login(app, "farma-d")
    page = client.get("/mi-certificacion?lang=es")
    assert page.status_code == 200 and 'href="/mi-certificacion"' in page.text
    assert 'data-state="expiring"' in page.text and "Certificado por vencer" in page.text
    assert "CQFP-04321" in page.text and "20 oct 2026" in page.text
    en = client.get("/mi-certificacion?lang=en")
    assert "Certificate expiring soon" in en.text and "Reminders sent" in en.text
    assert login(app, "ana-q").get("/mi-certificacion").status_code == 403  # not a clinician


@pytest.mark.browser
def test_admin_generates_and_opens_the_report_in_a_browser(browser_page, live_app, users):
    page, base = browser_page, live_app
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{base}/admin/quarterly")
    page.fill("input[name=quarter]", "2026Q3")
    page.click("form[action='/admin/quarterly'] button")
    # Figures, HTML and PDF are made in the request: allow for a loaded machine.
    page.wait_for_selector("#reports tbody tr:has-text('2026Q3')", timeout=120_000)
    row = page.locator("#reports tbody tr").first
    assert "2026Q3" in row.inner_text() and "DIGEMID" in row.inner_text()
    page.click("a[href='/admin/quarterly/2026Q3.html']")
    page.wait_for_url("**/2026Q3.html")
    assert "tercer trimestre de 2026" in page.locator("h1").inner_text()
    assert page.locator("svg.map").count() == 3  # departments, Lima/Callao, certification
    assert page.locator("svg.map").first.locator("path").count() == 25
    page.goto(f"{base}/certification")
    assert page.locator("#by-region tbody tr").count() == 3
    assert page.locator("#by-region progress").count() == 3


def test_a_quarter_still_running_reads_data_until_its_last_record(session):
    import datetime as dt

    from centinela.ledger.records import ImportRun
    from centinela.quarterly.figures import Quarter, data_cutoff

    q = Quarter(2026, 4)
    assert data_cutoff(session, q) == q.utc_bounds()[1]  # nothing stored: the quarter's end
    stamp = dt.datetime(2026, 12, 5, 10, 30)
    session.add(ImportRun(source="x", channel="cli", started_at=stamp, status="completed",
                          summary={}))
    session.commit()
    assert data_cutoff(session, q) == stamp  # not 2027-01-01: the data reach 5 December
