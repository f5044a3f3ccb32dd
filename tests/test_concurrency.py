"""Concurrent writers against a real server: no 5xx, nothing lost, answers only after commit
(issue 11.2) — SQLite file, or PostgreSQL when configured."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from sqlalchemy import func, select

from centinela.config import get_settings
from centinela.public.models import CitizenReport
from tests.live import serve_in_thread

CLIENTS = 8
PER_CLIENT = 6


@pytest.fixture
def server(engine, monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "0")
    monkeypatch.setenv("CENTINELA_PUBLIC_REPORTS_PER_DAY", "100000")
    get_settings.cache_clear()
    from centinela.web.app import create_app

    with serve_in_thread(create_app(engine)) as base:
        yield base
    get_settings.cache_clear()


def _answer(question: str) -> str:
    a, b = (int(x) for x in question.split("+"))
    return str(a + b)


def _via_api(http: httpx.Client, i: int) -> tuple[int, str | None]:
    ch = http.get("/api/v1/reports/challenge").json()
    r = http.post("/api/v1/reports", json={
        "kind": "fentanyl_no_rx", "ubigeo": "150101", "text": f"venden ampollas sin receta {i}",
        "challenge": {"token": ch["token"], "answer": _answer(ch["question"])}})
    return r.status_code, r.json().get("code") if r.status_code == 201 else None


def _via_form(http: httpx.Client, i: int) -> tuple[int, str | None]:
    page = http.get("/reportar").text
    token = re.search(r'name="challenge_token" value="([^"]+)"', page).group(1)
    label = re.search(r'<label for="challenge_answer">([^<]*)</label>', page).group(1)
    question = re.search(r"(\d+\s*\+\s*\d+)", label)
    r = http.post("/reportar", data={
        "kind": "fentanyl_no_rx", "ubigeo": "150101", "text": f"venden parches sin receta {i}",
        "challenge_token": token, "challenge_answer": _answer(question.group(1)),
        "csrf_token": http.cookies.get("centinela_csrf")})
    m = re.search(r'id="followup-code">([^<]+)<', r.text)
    return r.status_code, m.group(1) if m else None


def test_concurrent_reports_all_stored_and_visible_at_once(server, session):
    results: list[tuple[int, str | None]] = []
    visible_after: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(c: int) -> None:
        with httpx.Client(base_url=server, timeout=60) as http:
            start.wait()
            for j in range(PER_CLIENT):
                status, code = (_via_form if (c + j) % 2 else _via_api)(http, c * 100 + j)
                seen = None
                if status in (200, 201) and code:
                    # Another connection asks right away: the row must already be committed.
                    with httpx.Client(base_url=server, timeout=60) as other:
                        seen = other.get(f"/api/v1/reports/status/{code}").status_code == 200
                with lock:
                    results.append((status, code))
                    if seen is not None:
                        visible_after.append(seen)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [s for s, _ in results]
    assert len(results) == CLIENTS * PER_CLIENT
    assert not [s for s in statuses if s >= 500], statuses
    assert all(s in (200, 201) for s in statuses), statuses
    stored = session.scalar(select(func.count()).select_from(CitizenReport))
    assert stored == CLIENTS * PER_CLIENT
    assert visible_after and all(visible_after)


def test_two_imports_of_the_same_registry_at_once_both_succeed(engine, session, data_dir):
    from centinela.ingest.service import import_directory
    from centinela.registry.models import Establishment, Product, Professional
    from tests.ingest_support import write_registry

    write_registry(data_dir)
    reports, errors = [], []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            reports.append(import_directory(engine, data_dir))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(reports) == 4 and all(not r.error for r in reports), [r.error for r in reports]
    assert all(f.status != "refused" and f.rejected == 0 for r in reports for f in r.files)
    for model, n in ((Establishment, 4), (Professional, 3), (Product, 3)):
        assert session.scalar(select(func.count()).select_from(model)) == n
