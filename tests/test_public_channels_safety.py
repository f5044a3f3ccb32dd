"""Issue 12, problems 2 and 5: emergencies are answered before any limit on every channel;
citizen-facing errors are Spanish first, say what to do, keep what was typed; the API's error
shape; the challenge answer cannot be read from its token; tel: links; es-PE sorting."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from centinela.config import get_settings
from centinela.public.abuse import new_challenge
from centinela.public.messaging import handle_sms, telegram_reply

NUMBERS = ("106", "113", "105")


@pytest.fixture
def public_env(monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "0")
    monkeypatch.setenv("CENTINELA_PUBLIC_ASKS_PER_MINUTE", "3")
    monkeypatch.setenv("CENTINELA_PUBLIC_REPORTS_PER_DAY", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def client(engine, public_env, now):
    from centinela.web.app import create_app

    app = create_app(engine)
    app.state.public_clock = lambda: now
    with TestClient(app) as c:
        yield c


def csrf(client) -> str:
    if not client.cookies.get("centinela_csrf"):
        client.get("/asistente")
    return client.cookies.get("centinela_csrf")


def _challenge(client) -> dict:
    ch = client.get("/api/v1/reports/challenge").json()
    a, b = (int(x) for x in ch["question"].split("+"))
    return {"token": ch["token"], "answer": str(a + b)}


def test_overdose_after_any_number_of_questions_gets_the_emergency_answer(client):
    for _ in range(30):
        client.post("/api/v1/assistant/ask", json={"question": "que es el fentanilo"})
    limited = client.post("/api/v1/assistant/ask", json={"question": "que es la naloxona"})
    assert limited.status_code == 429
    err = limited.json()["error"]
    assert err["field"] == "question" and all(n in err["message"] for n in NUMBERS)
    assert "espere" in err["message"].lower()  # Spanish, says what to do
    resp = client.post("/api/v1/assistant/ask",
                       json={"question": "mi amigo no respira, tomó pastillas"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["red_flag"] == "overdose" and body["answer"].index("106") < 80
    # English speakers get the limit message in English, with the numbers.
    en = client.post("/api/v1/assistant/ask", json={"question": "what is naloxone used for"})
    assert en.status_code == 429 and "wait a minute" in en.json()["error"]["message"]
    assert all(n in en.json()["error"]["message"] for n in NUMBERS)


def test_web_chat_limit_and_emergency(client):
    token = csrf(client)
    for _ in range(5):
        client.post("/asistente/mensaje", data={"question": "que es el tramadol",
                                                "csrf_token": token})
    limited = client.post("/asistente/mensaje", data={"question": "que es el tramadol",
                                                      "csrf_token": token})
    assert limited.status_code == 429
    assert 'href="tel:106"' in limited.text and 'href="tel:105"' in limited.text
    urgent = client.post("/asistente/mensaje", data={"question": "ayuda mi hermano no despierta",
                                                     "csrf_token": token})
    assert urgent.status_code == 200 and 'data-red-flag="overdose"' in urgent.text
    assert 'href="tel:106"' in urgent.text


def test_sms_emergency_before_limit(session, now, monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_REPORTS_PER_DAY", "1")
    get_settings.cache_clear()
    for _ in range(6):
        handle_sms(session, "+51911222333", "hola", now)
    limited = handle_sms(session, "+51911222333", "hola", now)
    assert all(n in limited for n in NUMBERS)
    reply = handle_sms(session, "+51911222333", "mi amigo no respira", now)
    assert reply.startswith("🚨") and "106" in reply[:60]
    get_settings.cache_clear()


def test_telegram_emergency(session, now):
    sent = telegram_reply(session, {"message": {"message_id": 1, "chat": {"id": 5},
                                                "text": "my friend is not breathing"}}, now)
    assert sent["red_flag"] == "overdose" and "106" in sent["text"][:60]


def test_report_errors_are_spanish_and_keep_what_was_typed(client):
    page = client.get("/reportar").text
    token = page.split('name="challenge_token" value="')[1].split('"')[0]
    data = {"kind": "pills", "ubigeo": "040101", "department": "04", "province": "0401",
            "text": "venden pastillas", "latitude": "-16.40", "longitude": "-71.54",
            "challenge_token": token, "challenge_answer": "999", "csrf_token": csrf(client)}
    resp = client.post("/reportar", data=data)
    assert resp.status_code == 422
    error = re.search(r'id="form-error"[^>]*>(.*?)</p>', resp.text, re.S).group(1)
    assert "suma" in error and "too fast" not in error and "challenge" not in error
    assert 'value="-16.40"' in resp.text and 'value="-71.54"' in resp.text
    assert re.search(r'<option value="04" selected>', resp.text)
    assert re.search(r'<option value="0401" selected>', resp.text)
    assert re.search(r'<option value="040101" selected>', resp.text)
    assert "venden pastillas</textarea>" in resp.text


def test_report_mentioning_an_emergency_shows_the_numbers_first(client):
    body = {"kind": "pills", "ubigeo": "150101", "text": "compró pastillas y ahora no respira",
            "challenge": _challenge(client)}
    resp = client.post("/api/v1/reports", json=body)
    assert resp.status_code == 201 and "106" in resp.json()["emergency"]


def test_api_errors_follow_the_documented_shape(client):
    bad_kind = client.post("/api/v1/reports", json={"kind": "nope", "ubigeo": "150101",
                                                    "challenge": _challenge(client)})
    assert bad_kind.status_code == 422
    assert set(bad_kind.json()["error"]) >= {"field", "message"}
    assert bad_kind.json()["error"]["field"] == "kind"
    missing = client.post("/api/v1/assistant/ask", json={})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "question"
    for _ in range(2):
        assert client.post("/api/v1/reports", json={
            "kind": "pills", "ubigeo": "150101", "text": "x",
            "challenge": _challenge(client)}).status_code == 201
    rate = client.post("/api/v1/reports", json={"kind": "pills", "ubigeo": "150101", "text": "x",
                                                "challenge": _challenge(client)})
    assert rate.status_code == 429 and "1818" in rate.json()["error"]["message"]


def test_challenge_answer_cannot_be_read_from_the_token(now):
    ch = new_challenge(now)
    # Read it as anyone could: decode the payload without knowing the key.
    _valid, data = URLSafeTimedSerializer("not-the-key").loads_unsafe(ch["token"])
    assert set(data) == {"t", "n", "h"}
    secret = {ch["a"], ch["b"], ch["a"] + ch["b"]}
    assert not any(v in secret or str(v) in map(str, secret) for v in data.values())


def test_emergency_numbers_are_tel_links_and_places_sorted_in_spanish(client):
    page = client.get("/asistente").text
    for number in ("106", "105", "113", "1818"):
        assert f'href="tel:{number}"' in page
    names = [p["name"] for p in client.get("/api/v1/places").json()["places"]]
    assert names.index("Áncash") < names.index("Apurímac") < names.index("Ucayali")
    options = client.get("/reportar").text
    assert options.index(">Áncash<") < options.index(">Apurímac<") < options.index(">Ucayali<")


def test_malformed_request_describing_an_emergency_still_gets_the_answer(client):
    long = "hola " * 250 + "mi amigo no respira y tiene los labios morados"
    resp = client.post("/api/v1/assistant/ask", json={"question": long, "language": "xx"})
    assert resp.status_code == 200 and resp.json()["red_flag"] == "overdose"
    bad = client.post("/api/v1/assistant/ask", json={"question": "que es", "language": "xx"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "language"


def test_services_page_is_honest_about_csmc(client):
    page = client.get("/servicios?ubigeo=040101").text
    assert 'id="csmc-note"' in page and "113" in page
    lima = client.get("/api/v1/services/nearest?ubigeo=150137").json()
    assert any("VALDIZAN" in s["name"] for s in lima["mental_health"])


def test_invalid_report_that_describes_an_emergency_gets_the_numbers(client):
    resp = client.post("/api/v1/reports", json={"kind": "nope", "ubigeo": "150101",
                                                "text": "mi vecino no respira, se inyectó"})
    assert resp.status_code == 422 and "106" in resp.json()["emergency"]
