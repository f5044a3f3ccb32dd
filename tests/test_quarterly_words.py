"""The quarterly report, its admin page and the certification page read as a DIGEMID official
reads them: detectors, substances, statuses and authorities by name, es-PE numbers as the app
writes them, dates in Lima time, empty sections explained, charts titled with units and
sources — while the figures JSON keeps its codes."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from centinela.alerts.models import Alert, Delivery
from centinela.ews.models import Signal
from centinela.ledger.records import Seizure
from centinela.quarterly import words
from centinela.quarterly.figures import Quarter, data_cutoff, quarter_figures
from centinela.quarterly.render import build_charts, render_html, render_pdf
from centinela.registry.models import Professional
from centinela.web.fmt import format_number
from tests.test_quarterly import AS_OF, T, hand, users  # noqa: F401 (fixtures)
from tests.web_support import login


def _text(html: str) -> str:
    """Return what a reader sees: no style, no tags, spaces collapsed (non-breaking ones kept)."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def named(hand):  # noqa: F811
    """The hand-computed set plus a seizure of an unidentified powder and an analogue's signal."""
    hand.add(Seizure(seizure_id="S9", occurred_at=T(2026, 8, 25), ubigeo="150101", agency="SUNAT",
                     context="airport", substance="unknown white powder", net_mass_mg=12.0,
                     content_hash="9" * 32))
    hand.add(Signal(source_kind="lab", source_id="LAB9", occurred_at=T(2026, 8, 26),
                    department="15", substance="acetylfentanyl", payload={}))
    hand.commit()
    return hand


def test_detectors_substances_statuses_and_authorities_are_named_in_spanish(named):
    f = quarter_figures(named, "2026Q3", AS_OF)
    html = render_html(f)
    text = _text(html)
    # Section 6: the detectors' Spanish names from the app, never their codes.
    assert "Pérdida o robo reportado" in text
    assert "Manejo de fentanilo sin certificación" in text and "Consumo regional atípico" in text
    for code in ("loss_report", "uncertified_handler", "regional_outlier"):
        assert code not in text
    # Substances by the early-warning registry's Spanish names; unidentified said so.
    assert ">Fentanilo<" in html and ">Morfina<" in html
    assert "Sustancia no identificada" in text and "acetilfentanilo (1)" in text
    for english in ("fentanyl", "morphine", "unknown", "white powder", "acetylfentanyl"):
        assert english not in text.lower()
    # Authorities by name, statuses and severities in Spanish, rejected rows in words.
    assert "Dirección General de Medicamentos, Insumos y Drogas (MINSA) — DIGEMID" in text
    assert "AT-2026-007 Carfentanilo en Lima alta 12 de agosto de 2026" in text
    assert "derivada a la autoridad 1" in text and "recibida 1" in text
    assert "Movimientos, campo «quantity»: valor no válido" in text
    assert "(invalid)" not in text and ">high<" not in html
    # The JSON keeps its stable codes.
    assert {d["detector"] for d in f["alerts"]["by_detector"]} >= {"loss_report", "regional_outlier"}
    assert "unknown white powder" in {s["substance"] for s in f["seizures"]["by_substance"]}
    assert f["consumption"]["by_substance"][0]["substance"] == "fentanyl"
    assert f["early_warning"]["bulletins"][0]["severity"] == "high"


def test_dates_are_lima_words_and_numbers_the_apps_es_pe_format(hand):  # noqa: F811
    f = quarter_figures(hand, "2026Q3", AS_OF)
    text = _text(render_html(f))
    assert "Informe trimestral interinstitucional: tercer trimestre de 2026" in text
    assert "Período: del 1 de julio al 30 de setiembre de 2026 (hora de Lima)" in text
    # AS_OF is 12:00 UTC: 07:00 in Lima.
    assert "Resultados al 31 de octubre de 2026, 07:00 (hora de Lima)" in text
    assert "Situación al 30 de setiembre de 2026 (plazo del programa: 1 de enero de 2026;" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "an ISO date is left"
    assert "UTC" not in text.replace("UTC−5", "")
    # Quarters by name; the code only as the report's reference.
    assert "respecto del II trim. 2026" in text and "III trim. 2025 (mg)" in text
    assert re.findall(r"\d{4}Q[1-4]", text) == ["2026Q3"]
    # Lima's population as every page of the app writes it (non-breaking space, decimal comma).
    assert format_number(11_461_995) == "11\u00a0461\u00a0995"
    assert "Lima 11\u00a0461\u00a0995 2,5 0,02 +400,0\u00a0%" in text
    assert "11.461.995" not in text
    assert "1 señal (intoxicaciones y sobredosis: 1)" in text  # one, not "1 señales"


def test_an_empty_quarter_says_why_each_section_is_empty(hand):  # noqa: F811
    f = quarter_figures(hand, "2025Q1", AS_OF)
    charts = build_charts(f)
    html = render_html(f)
    text = _text(html)
    assert "Ninguna alerta tiene evidencia que termine en el trimestre" in text
    assert "Sin pistas de venta en línea ni denuncias ciudadanas recibidas en el trimestre" in text
    assert "Sin incautaciones ni identificaciones forenses registradas en el trimestre" in text
    assert "Ningún establecimiento declaró pérdidas ni robos en el trimestre" in text
    assert "()" not in text and ">sin datos</text>" not in html
    assert "detectors" not in charts  # no chart of nothing


def test_every_chart_has_a_title_units_and_a_source(hand):  # noqa: F811
    f = quarter_figures(hand, "2026Q3", AS_OF)
    charts = build_charts(f)
    html = render_html(f)
    for name, svg in charts.items():
        assert re.search(r'font-weight="bold">[^<]{10,}</text>', svg), name
    assert "Fentanilo consumido por departamento, III trim. 2026" in charts["map_departments"]
    assert "mg / 100 000 hab." in charts["map_departments"]
    assert "(mg)" in charts["trend"] and "III trim. 2025" in charts["trend"]
    assert "2025Q3" not in charts["trend"]
    # The certification map's grey class is "no professionals", not "no consumption".
    assert "sin profesionales registrados" in charts["map_certification"]
    assert "sin consumo registrado" not in charts["map_certification"]
    assert "Amazonas: sin profesionales registrados" in charts["map_certification"]
    assert "Pérdida o robo reportado" in charts["detectors"]
    captions = re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", html, flags=re.S)
    assert len(captions) == 5 and all("Fuente:" in c for c in captions)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_the_pdf_reads_in_spanish(named):
    f = quarter_figures(named, "2026Q3", AS_OF)
    pdf = render_pdf(render_html(f))
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")
    flat = re.sub(r"\s+", " ", text)
    assert "tercer trimestre de 2026" in flat and "III trim. 2026" in flat
    assert "Pérdida o robo reportado" in flat and "Sustancia no identificada" in flat
    assert "Fentanilo" in flat and "31 de octubre de 2026, 07:00 (hora de Lima)" in flat
    assert "11\u00a0461\u00a0995" in text or "11 461 995" in flat
    for code in ("loss_report", "fentanyl ", "unknown", "2026-10-31", "UTC "):
        assert code not in flat


def test_the_default_cutoff_keeps_the_alerts_stored_in_its_last_second(hand):  # noqa: F811
    created = T(2026, 11, 20, 10, 0, 0, 326_000)  # after the last case event (15 Nov)
    hand.add(Alert(alert_id="A7", dedup_key="A7", detector="early_refills", subject_kind="prescriber",
                   subject_id="CMP-A", department="15", severity="medium", score=1.0,
                   window_start=T(2026, 9, 1), window_end=T(2026, 9, 5), summary="s", evidence={},
                   routed_to=["DIGEMID"], topics=["diversion"], status="new", created_at=created,
                   updated_at=created))
    hand.commit()
    q = Quarter.parse("2026Q3")
    assert data_cutoff(hand, q) == T(2026, 11, 20, 10, 0, 1)  # rounded up, not down
    f = quarter_figures(hand, q)
    assert f["alerts"]["raised"] == 6  # A1-A4, A6 and A7
    assert "Renovaciones anticipadas" in _text(render_html(f))


def test_words_for_periods_ranges_and_rejections():
    assert words.period("2026-07-01", "2026-09-30") == "del 1 de julio al 30 de setiembre de 2026"
    assert words.period("2026-08-01", "2026-08-31") == "del 1 al 31 de agosto de 2026"
    assert words.period("2025-12-15", "2026-01-14") == \
        "del 15 de diciembre de 2025 al 14 de enero de 2026"
    assert words.one_range("registró 200 dispensaciones entre agosto de 2026 y agosto de 2026: "
                           "3,2 veces") == "registró 200 dispensaciones en agosto de 2026: 3,2 veces"
    assert words.one_range("entre mayo de 2026 y junio de 2026") == \
        "entre mayo de 2026 y junio de 2026"
    assert words.quarter_short("2026Q4") == "IV trim. 2026"
    assert words.substance("desconocido") == "sustancia no identificada"
    assert words.substance("Fentanilo") == "fentanilo"
    assert words.substance("polvo rosado") == "«polvo rosado» (nombre notificado, sin confirmar)"
    assert words.product_substance("desconocido") == "Producto no registrado"
    assert words.rejection_where("seizure.- (conflict)") == \
        "Incautaciones: conflicto (mismo identificador, otro contenido)"
    assert words.change(-15.3) == "-15,3\u00a0%" and words.change(None) == "—"
    assert words.moment("2026-12-06T06:41:29") == "6 de diciembre de 2026, 01:41 (hora de Lima)"


def test_the_admin_list_shows_statuses_recipients_and_times_in_words(users, app, hand):  # noqa: F811
    client = login(app, "admin")
    assert client.post("/admin/quarterly", data={"quarter": "2026Q3"},
                       follow_redirects=False).status_code == 303
    page = client.get("/admin/quarterly").text
    assert "DIGEMID (Pendiente)" in page and "(pending)" not in page
    assert "Datos hasta (hora de Lima)" in page and "(UTC)" not in page
    # The default cut-off is the last case event, 15 Nov 00:00 UTC: 14 Nov, 19:00 in Lima.
    assert "14 nov 2026, 19:00" in page and "2026-11-15" not in page
    assert "III trim. 2026 (2026Q3)" in page
    assert "Dirección General de Medicamentos, Insumos y Drogas (MINSA) — DIGEMID" in page
    hand.expire_all()
    payload = hand.scalar(select(Delivery.payload).where(Delivery.payload_kind == "quarterly")
                          .limit(1))
    assert payload["title"] == "Informe trimestral interinstitucional: tercer trimestre de 2026"
    en = client.get("/admin/quarterly?lang=en").text
    assert "DIGEMID (Pending)" in en and "Data up to (Lima time)" in en and "Q3 2026 (2026Q3)" in en


def test_certification_page_names_the_row_without_department_and_writes_es_pe(users, app, hand):  # noqa: F811
    hand.add(Professional(professional_id="CMP-X", role="prescriber", full_name="Sin Lugar"))
    hand.commit()
    app.state.clock = lambda: T(2026, 9, 30, 17)
    page = login(app, "analista").get("/certification").text
    row = re.search(r'<tr data-department="--">(.*?)</tr>', page, flags=re.S)
    assert row and "Sin departamento registrado" in row.group(1)
    assert "sin departamento<" not in page and "-- " not in _text(row.group(1))
    # CMP-A and CQFP-D certified of five handlers (CMP-C expired; CQFP-B and CMP-X missing).
    assert "2 / 5" in page and "40,0\u00a0%" in page and "40.0" not in page
    assert "Situación al 30 set 2026. Plazo del programa: 1 ene 2026" in page
    # CQFP-D's certificate ends on 20 Oct, within the 60 days that end on 29 Nov.
    assert "vencen en los próximos 60 días (hasta el 29 nov 2026)" in page
    assert '<td>Lima</td>' in page
    en = login(app, "analista").get("/certification?lang=en").text
    assert "No department on record" in en and "expire within the next 60 days" in en


def test_the_certification_count_of_expiring_is_the_window_only(hand):  # noqa: F811
    """Every handler of the demo shows as expiring in December because the synthetic year
    certifies them all in December 2025 (before the deadline): the count itself only takes
    certificates ending within the window."""
    from centinela.certification.progress import department_status, national

    day = dt.date(2026, 9, 30)
    n = national(department_status(hand, day))
    assert (n["certified"], n["expiring_60d"]) == (2, 1)  # CQFP-D only; CMP-A ends 2027-01-10
    later = national(department_status(hand, dt.date(2026, 11, 15)))
    assert later["expiring_60d"] == 1  # CMP-A: 56 days left; CQFP-D has expired
