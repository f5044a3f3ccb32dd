"""End to end in headless Chromium: file a report, get a code, check its status, and hold a
chat that triggers the red-flag path; nothing stored reveals the IP, the browser or photo GPS."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import inspect, select, text

from centinela.config import get_settings
from centinela.public.models import CitizenReport, ReportPhoto

pytestmark = pytest.mark.browser


@pytest.fixture
def quick_forms(monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def gps_jpeg(path):
    img = Image.new("RGB", (80, 60), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerX"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (12.0, 7.0, 1.0), "W", (77.0, 2.0, 3.0)
    img.save(path, format="JPEG", exif=exif)
    return path


def stored_text(session) -> str:
    parts = []
    for table in inspect(session.get_bind()).get_table_names():
        for row in session.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
            parts.extend(str(v) for v in row)
    return " ".join(parts)


def test_report_code_and_status_in_real_browser(quick_forms, live_app, browser_page, session,
                                                tmp_path):
    page = browser_page
    page.goto(f"{live_app}/reportar")
    user_agent = page.evaluate("navigator.userAgent")
    page.select_option("#kind", "fentanyl_no_rx")
    with page.expect_response(lambda r: "/reportar/lugares" in r.url):
        page.select_option("#department", "05")
    with page.expect_response(lambda r: "/reportar/lugares" in r.url):
        page.select_option("#province", "0501")
    page.select_option("#ubigeo", "050101")
    page.fill("#establishment_name", "Botica La Esperanza")
    page.fill("#latitude", "-13.158731")
    page.fill("#longitude", "-74.223911")
    page.select_option("#how", "in_person")
    page.fill("#text", "Venden ampollas de fentanilo sin receta por la puerta trasera.")
    page.set_input_files("#photo", str(gps_jpeg(tmp_path / "vitrina.jpg")))
    question = page.inner_text("label[for=challenge_answer]")
    a, b = question.split("es ")[1].rstrip("?").split("+")
    page.fill("#challenge_answer", str(int(a) + int(b)))
    page.click("#send")
    code = page.inner_text("#followup-code").strip()
    assert len(code.replace("-", "")) == 20

    page.goto(f"{live_app}/reportar/seguimiento")
    page.fill("#code", code)
    page.click("#check")
    assert page.inner_text("#report-status") == "recibida"
    page.fill("#info-text", "Atienden hasta las 11 pm.")
    page.click("#add-send")
    assert "información agregada" in page.inner_text("#timeline")

    session.expire_all()
    report = session.scalar(select(CitizenReport))
    assert report.ubigeo == "050101" and (report.latitude, report.longitude) == (-13.16, -74.225)
    photo = session.scalar(select(ReportPhoto))
    with Image.open(io.BytesIO(photo.content)) as img:
        assert not img.getexif()
    assert b"PhoneMakerX" not in photo.content
    everything = stored_text(session)
    assert "127.0.0.1" not in everything
    assert user_agent not in everything and "HeadlessChrome" not in everything


def test_chat_red_flag_and_cited_answer_in_real_browser(live_app, browser_page):
    page = browser_page
    page.goto(f"{live_app}/asistente")
    page.fill("#question", "ayuda mi amigo no respira y tiene los labios morados")
    page.click("#ask-send")
    red = page.wait_for_selector(".bubble.bot.red")
    assert "106" in red.inner_text() and red.get_attribute("data-red-flag") == "overdose"
    page.fill("#question", "donde puedo desechar opioides que sobraron")
    page.click("#ask-send")
    page.wait_for_selector(".bubble.bot:nth-of-type(5)")
    last = page.query_selector_all(".bubble.bot")[-1]
    assert last.get_attribute("data-kind") == "kb" and "Fuentes" in last.inner_text()


def test_english_switch_in_real_browser(live_app, browser_page):
    page = browser_page
    page.goto(f"{live_app}/reportar")
    page.click("#lang-switch")
    assert "Anonymous report" in page.inner_text("h1")
    page.goto(f"{live_app}/asistente")  # the choice is remembered
    assert page.inner_text("h1") == "Fentanyl and opioids assistant"


@pytest.fixture
def tight_limits(monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "0")
    monkeypatch.setenv("CENTINELA_PUBLIC_ASKS_PER_MINUTE", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_form_error_is_spanish_and_keeps_the_place_in_real_browser(tight_limits, live_app,
                                                                   browser_page):
    page = browser_page
    page.goto(f"{live_app}/reportar")
    page.select_option("#kind", "pills")
    with page.expect_response(lambda r: "/reportar/lugares" in r.url):
        page.select_option("#department", "04")
    with page.expect_response(lambda r: "/reportar/lugares" in r.url):
        page.select_option("#province", "0401")
    page.select_option("#ubigeo", "040101")
    page.fill("#latitude", "-16.398")
    page.fill("#longitude", "-71.537")
    page.fill("#text", "Venden pastillas celestes en el cementerio")
    page.fill("#challenge_answer", "999")
    page.click("#send")
    error = page.inner_text("#form-error")
    assert "suma" in error and "wrong" not in error and "challenge" not in error
    assert page.input_value("#department") == "04" and page.input_value("#province") == "0401"
    assert page.input_value("#ubigeo") == "040101"
    assert page.input_value("#latitude") == "-16.398"
    assert "cementerio" in page.input_value("#text")
    assert page.query_selector('.emergency a[href="tel:106"]') is not None


def test_limited_chat_still_answers_emergencies_in_real_browser(tight_limits, live_app,
                                                                browser_page):
    page = browser_page
    page.goto(f"{live_app}/asistente")
    for i in range(3):
        page.fill("#question", "que es el tramadol")
        page.click("#ask-send")
        page.wait_for_selector(f".bubble.me:nth-of-type({2 * i + 2})")
    limited = page.wait_for_selector('.bubble.bot[data-kind="rate_limited"]')
    assert "106" in limited.inner_text() and limited.query_selector('a[href="tel:113"]')
    page.fill("#question", "mi amigo no respira")
    page.click("#ask-send")
    red = page.wait_for_selector(".bubble.bot.red")
    assert red.get_attribute("data-red-flag") == "overdose"
    assert red.query_selector('a[href="tel:106"]') is not None
