"""The alert inbox, the imports and lookup pages and the API reference in words (QA walkthrough):
one headline per alert wherever it is listed, occurrences and grouped alerts each said as what
they are, regions by name, es-PE numbers and dates, import codes in words, a lookup chart with
a legend in words and x labels that never overlap, and an API reference that needs no Internet.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.web.fmt import format_date_range, format_month_range
from centinela.web.i18n import plural
from tests.web_support import login

HTML = {"accept": "text/html"}


def _text(html: str) -> str:
    """The page's text without tags (entities of quotes undone)."""
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(text.replace("&#39;", "'").replace("&#34;", '"').split())


@pytest.fixture
def handlers(session, world, now):
    """An uncertified handler found twice (two occurrences folded into one alert), a repeated
    prescriber pattern (three alerts on one line) and a same-day finding."""
    evidence = {"mme": 1360504.8, "role": "pharmacist", "registered": True,
                "deadline": "2025-10-01", "fentanyl_mg": 31794.0, "patient_facing_events": 230,
                "patients": 58, "event_count": 342}
    for days, score in ((200, 35.0), (60, 61.5)):
        upsert_alert(session, AlertDraft(
            "uncertified_handler", "professional", "CQFP-00001", "medium", score,
            now - dt.timedelta(days=days + 20), now - dt.timedelta(days=days),
            "CQFP-00001 (pharmacist) manejó 31 794 mg de fentanilo en 342 movimiento(s) entre "
            "2025-10-03 y 2025-12-05, después del plazo de certificación, sin certificado.",
            evidence, department="15", grouped=True), now=now)
    for i, days in enumerate((200, 300)):
        upsert_alert(session, AlertDraft(
            "prescriber_volume", "professional", "CMP-000001", "medium", 50.0 - i,
            now - dt.timedelta(days=days + 30), now - dt.timedelta(days=days),
            "Prescripción alta (repetición).", {"observed_mme": 100.0}, department="15"),
            now=now)
    day = now - dt.timedelta(days=26)
    upsert_alert(session, AlertDraft(
        "loss_spike", "establishment", "EST-LIM-F1", "low", 20.0, day, day + dt.timedelta(hours=2),
        "EST-LIM-F1 reportó 3 pérdidas entre 2025-12-05 y 2025-12-05.", {}, department="15"),
        now=now)
    session.commit()
    return world


def _row(ctx: dict, detector: str) -> dict:
    return next(r for r in ctx["rows"] if r["detector"] == detector)


def test_the_inbox_line_and_the_alert_page_say_the_same_sentence(app, handlers):
    """The inbox showed the stored summary (342 movements, the strongest occurrence's own
    dates, ISO) while the alert page said the headline (230 patient-facing movements over the
    alert's whole window): both now show the headline, in the reader's language."""
    client = login(app, "analista")
    for lang in ("es", "en"):
        rows = client.get("/api/v1/alerts", params={"status": "all", "lang": lang}).json()["rows"]
        assert len(rows) >= 7
        for row in rows:
            detail = client.get(f"/api/v1/alerts/{row['alert_id']}", params={"lang": lang}).json()
            assert row["summary"] == detail["explained"]["headline"], (lang, row["detector"])
    es = _row(client.get("/api/v1/alerts", params={"status": "all"}).json(),
              "uncertified_handler")
    assert "(químico farmacéutico)" in es["summary"] and "(pharmacist)" not in es["summary"]
    assert not re.search(r"\d{4}-\d{2}-\d{2}", es["summary"])


def test_inbox_numbers_dates_and_ranges_in_the_page_language(app, handlers):
    client = login(app, "analista")
    es = _text(client.get("/alerts?status=all", headers=HTML).text)
    en = _text(client.get("/alerts?status=all&lang=en", headers=HTML).text)
    assert "78,0" in es and "78.0" not in es  # the score, es-PE
    assert "78.0" in en
    assert not re.search(r"\b\d{4}-\d{2}(-\d{2})?\b", es)  # no ISO date on the page
    # A finding of one day says that day once, in the summary and in the window column.
    assert "el 5 dic 2025." in es and "entre 5 dic 2025 y 5 dic 2025" not in es
    assert "5 dic 2025 → 5 dic 2025" not in es


def test_occurrences_and_grouped_alerts_are_each_said_as_what_they_are(app, handlers):
    """The badge counted occurrences ("4 ocurrencias") while its tooltip spoke of alerts
    grouped on the line ("1 alertas…"): each is now worded for what it counts."""
    client = login(app, "analista")
    ctx = client.get("/api/v1/alerts", params={"status": "all"}).json()
    folded = _row(ctx, "uncertified_handler")
    assert folded["alerts_in_group"] == 1 and folded["occurrences"] == 2
    grouped = _row(ctx, "prescriber_volume")
    assert grouped["alerts_in_group"] == 3 and grouped["occurrences"] == 3
    page = client.get("/alerts?status=all", headers=HTML).text
    found = re.findall(r'<span class="ws-badge occurrences" title="([^"]+)">([^<]+)</span>', page)
    badges = {text: title for title, text in found}
    assert set(badges) == {"2 ocurrencias", "3 ocurrencias en 3 alertas"}
    one = badges["2 ocurrencias"]
    assert "se repitió 2 veces" in one and "esta alerta" in one and "alertas" not in one
    many = badges["3 ocurrencias en 3 alertas"]
    assert many.startswith("3 alertas del mismo detector y sujeto agrupadas en esta línea")
    assert "1 alertas" not in page
    single = client.get("/alerts?status=all&detector=loss_spike", headers=HTML).text
    assert "1 alerta en total" in _text(single)


def test_every_plural_key_a_template_uses_has_both_forms_in_both_languages():
    from pathlib import Path

    from centinela.web.i18n import catalogs

    web = Path(__file__).resolve().parents[1] / "src" / "centinela" / "web" / "templates"
    keys = {k for path in web.rglob("*.html")
            for k in re.findall(r"\btn\('([a-z_.]+)'", path.read_text(encoding="utf-8"))}
    assert {"inbox.n_alerts", "inbox.n_occurrences", "imports.n_rows"} <= keys
    cats = catalogs()
    assert [f"{k}.{form}" for k in sorted(keys) for form in ("one", "other")
            for lang in ("es", "en") if f"{k}.{form}" not in cats[lang]] == []


def test_peer_group_parts_in_words_and_a_worded_sentence_left_alone():
    from centinela.web.codes import code

    assert code("anesthesiology · dispensación ≤ 7 días · nacional", "en") == \
        "anesthesiology · dispensing ≤ 7 days · national"
    assert code("todos los prescriptores · administración hospitalaria", "en") == \
        "all prescribers · hospital administration"
    said = "CMP-1 prescribió 5 MME (medicina general · dispensación · departamento de Ayacucho)."
    assert code(said, "es") == said


def test_plural_forms_in_both_languages():
    assert plural("inbox.n_alerts", 1) == "1 alerta"
    assert plural("inbox.n_alerts", 1234) == "1\u00a0234 alertas"
    assert plural("inbox.n_occurrences", 1, "en") == "1 occurrence"
    assert plural("inbox.n_occurrences", 4, "en") == "4 occurrences"


def test_region_subjects_are_named_and_peer_groups_read_in_one_language(app, handlers, session,
                                                                       now):
    upsert_alert(session, AlertDraft(
        "prescriber_volume", "professional", "CMP-000003", "high", 80.0,
        now - dt.timedelta(days=90), now - dt.timedelta(days=1), "Prescripción alta.",
        {"observed": 5400.0, "history_ratio": 3.0, "criterion": "volume",
         "peer_group": "general_medicine · dispensación · departamento 05"},
        department="20"), now=now)
    session.commit()
    client = login(app, "analista")
    es = client.get("/alerts?status=all", headers=HTML).text
    assert re.search(r'Región:</span> <a href="/profiles/region/20" class="subject-id" '
                     r'title="20">Piura</a>', es)
    ctx = client.get("/api/v1/alerts", params={"status": "all"}).json()
    region = next(r for r in ctx["rows"] if r["subject_kind"] == "region")
    assert region["subject_name"] == "Piura" and region["subject_id"] == "20"
    en = client.get("/api/v1/alerts", params={"status": "all", "lang": "en"}).json()
    line = next(r["summary"] for r in en["rows"] if r["subject_id"] == "CMP-000003")
    assert "(general medicine · dispensing · Ayacucho department)" in line
    es_line = next(r["summary"] for r in ctx["rows"] if r["subject_id"] == "CMP-000003")
    assert "(medicina general · dispensación · departamento de Ayacucho)" in es_line


def test_date_and_month_ranges_say_one_date_when_both_ends_match():
    assert format_date_range("2026-12-05T10:00:00", "2026-12-05T20:00:00") == "5 dic 2026"
    assert format_date_range("2025-12-06T18:02:29", "2026-12-06T02:32:10") == \
        "6 dic 2025 → 5 dic 2026"  # UTC stored, Lima shown
    assert format_month_range("2026-08", "2026-08") == "agosto de 2026"
    assert format_month_range("2026-08", "2026-10", "en") == "August 2026 – October 2026"


@pytest.mark.parametrize(("text", "lang", "said"), [
    ("X entre 2026-12-05 y 2026-12-05.", "es", "X el 5 dic 2026."),
    ("Puno registró 40 dispensaciones entre agosto de 2026 y agosto de 2026: 3 veces", "es",
     "Puno registró 40 dispensaciones en agosto de 2026: 3 veces"),
    ("X entre el 5 dic 2026 y el 5 dic 2026.", "es", "X el 5 dic 2026."),
    ("Puno recorded 40 between August 2026 and August 2026.", "en",
     "Puno recorded 40 in August 2026."),
    ("X between Dec 5, 2026 and Dec 5, 2026.", "en", "X on Dec 5, 2026."),
    ("entre 3 ene 2026 y 5 dic 2026", "es", "entre 3 ene 2026 y 5 dic 2026"),
    ("entre 2 y 2 unidades", "es", "entre 2 y 2 unidades"),  # not dates: as written
    ("Caso CEN-2026-000001 a las 2026-02-30T10:00 desde 2026-04-23, mes 2026-08", "es",
     "Caso CEN-2026-000001 a las 2026-02-30T10:00 desde 23 abr 2026, mes ago 2026"),
])
def test_summaries_are_tidied(text, lang, said):
    from centinela.web.wording import tidy

    assert tidy(text, lang) == said


# ---------------------------------------------------------------- imports


def test_imports_pages_say_statuses_channels_and_kinds_in_words(app, world):
    from centinela.ingest.fields import SPECS

    client = login(app, "analista")
    fields = list(SPECS["movements"].fields)
    bad = ";".join(fields) + "\n" + ";".join("" for _ in fields) + "\n"
    r = client.post("/imports", files=[("files", ("movements.csv", bad.encode(), "text/csv"))],
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    refused = int(r.headers["location"].rsplit("/", 1)[1])
    row = dict.fromkeys(fields, "") | {
        "event_id": "UP-1", "event_type": "receipt", "occurred_at": "2025-12-01T10:00:00-05:00",
        "establishment_id": "EST-LIM-H1", "product_code": "NO-SUCH", "quantity": "10",
        "counterparty_id": "EST-DIST"}
    rows = (",".join(fields) + "\n" + ",".join(row[f] for f in fields) + "\n").encode()
    r = client.post("/imports", files=[("files", ("movements.csv", rows, "text/csv"))],
                    follow_redirects=False)
    mixed = int(r.headers["location"].rsplit("/", 1)[1])
    listing = _text(client.get("/imports", headers=HTML).text)
    assert "completada: todos los archivos rechazados" in listing
    assert "carga en la web" in listing
    assert not re.search(r"\b(completed|upload|refused|imported)\b", listing)
    page = _text(client.get(f"/imports/{refused}", headers=HTML).text)
    assert "rechazado entero" in page and "no válido" in page and "movimientos" in page
    assert not re.search(r"\b(completed|invalid|refused|cli)\b", page.split("Motivo", 1)[0])
    page = _text(client.get(f"/imports/{mixed}", headers=HTML).text)
    assert "completada" in page and "importado" in page and "1 fila" in page
    en = _text(client.get(f"/imports/{refused}?lang=en", headers=HTML).text)
    assert "completed: every file refused" in en and "web upload" in en
    api = client.get(f"/api/v1/import-runs/{refused}").json()
    assert api["run"]["status"] == "completed" and api["run"]["every_file_refused"] is True


# ---------------------------------------------------------------- lookup chart


def test_lookup_chart_legend_in_words_and_x_labels_never_overlap():
    from centinela.web.charts import line_chart, x_ticks
    from centinela.web.svgplot import text_width
    from centinela.web.views.common import Point, Series

    start = dt.date(2025, 12, 6)
    labels = [(start + dt.timedelta(days=i)).isoformat() for i in range(366)]
    for lang in ("es", "en"):
        ticks = x_ticks(labels, lang, lambda i: 40 + 660 * i / 365, 720)
        assert len(ticks) >= 5
        for (x0, a), (x1, b) in zip(ticks, ticks[1:], strict=False):
            assert x0 + text_width(a) / 2 < x1 - text_width(b) / 2, (a, b)
        assert all(text_width(t) / 2 <= x <= 720 - text_width(t) / 2 for x, t in ticks)
        assert not any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for _, t in ticks)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    ticks = [t for _, t in x_ticks(months, "es", lambda i: 40 + 660 * i / 11, 720)]
    assert ticks[0] == "ene 26" and ticks[-1] == "dic 26"  # the newest month always shows
    svg = str(line_chart([Series(name="MME/día", points=[Point(label=x, value=1.0)
                                                             for x in labels])], "t"))
    assert "■ MME/día" in svg and "2026-" not in svg.split("</title>", 1)[1].split("<polyline")[0]


def test_lookup_page_legend_and_numbers(app, world):
    client = login(app, "medico")
    page = client.post("/lookup", data={"document_type": "DNI", "document_number": "12345678",
                                         "reason": "new_prescription", "attest": "on"},
                       headers=HTML).text
    assert "■ MME/día" in page and "daily_mme" not in _text(page)
    assert "90 MME/día" in page
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", _text(page.split("<svg", 1)[0]))


# ---------------------------------------------------------------- API reference


def test_api_docs_work_offline_and_list_every_operation(app, world):
    client = login(app, None)
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from outside
    assert "cdn." not in html and "swagger" not in html.lower()
    assert "http" not in r.headers["content-security-policy"]
    schema = client.get("/api/openapi.json").json()
    for path, item in schema["paths"].items():
        for method in item:
            assert f'<code class="api-path" translate="no">{path}</code>' in html or \
                f'translate="no">{path.replace("{", "&#123;")}' in html, (method, path)
    assert 'id="schema-InboxContext"' in html and 'href="#schema-InboxRow"' in html
    text = _text(html)
    assert "Referencia de la API" in text and "Parámetros" in text and "Esquemas" in text
    en = _text(client.get("/api/docs?lang=en").text)
    assert "API reference" in en and "Parameters" in en and "Schemas" in en
    twin = client.get("/api/docs", headers={"accept": "application/json"}).json()
    assert twin["ctx"]["operations"] == sum(len(i) for i in schema["paths"].values())


def test_the_filter_form_with_empty_dates_filters(app, handlers):
    """The form (and htmx) send "date_from=&date_to=": that was a 422, so choosing a detector
    in the browser did nothing."""
    client = login(app, "analista")
    query = ("q=&date_from=&date_to=&severity=&detector=uncertified_handler&department=&"
             "status=all&assignee=&sort=score&order=desc")
    assert client.get(f"/alerts?{query}", headers=HTML).status_code == 200
    ctx = client.get(f"/api/v1/alerts?{query}").json()
    assert [r["detector"] for r in ctx["rows"]] == ["uncertified_handler"]
    assert client.get("/api/v1/alerts", params={"date_from": "31/12/2025"}).status_code == 422


def test_a_count_of_one_takes_the_singular_where_no_adjective_follows():
    from centinela.web.wording import tidy

    assert tidy("1 denuncias en Piura") == "1 denuncia en Piura"
    assert tidy("faltan 1 unidades, 21 días, 1 días") == "faltan 1 unidad, 21 días, 1 día"
    assert tidy("2 citizen reports and 1 citizen reports.", "en") == \
        "2 citizen reports and 1 citizen report."
    assert tidy("11 unidades y 1.5 unidades") == "11 unidades y 1.5 unidades"
    # An adjective after the noun would need its own agreement: left as written.
    assert tidy("1 unidades perdidas") == "1 unidades perdidas"
