"""The Telegram adapter against a real local HTTP server standing in for the Bot API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from centinela.config import get_settings


class FakeBotAPI(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length))
        FakeBotAPI.received.append((self.path, body))
        out = json.dumps({"ok": True, "result": {"message_id": 99}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def bot_api(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBotAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeBotAPI.received = []
    monkeypatch.setenv("CENTINELA_PUBLIC_TELEGRAM_API_BASE", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("CENTINELA_PUBLIC_TELEGRAM_BOT_TOKEN", "123:ABC")
    monkeypatch.setenv("CENTINELA_PUBLIC_TELEGRAM_WEBHOOK_SECRET", "hook-secret")
    get_settings.cache_clear()
    yield FakeBotAPI.received
    server.shutdown()
    get_settings.cache_clear()


def update(text: str, uid: int = 1) -> dict:
    return {"update_id": uid, "message": {"message_id": 10 + uid, "text": text,
                                          "chat": {"id": 4242, "type": "private"},
                                          "from": {"id": 7, "language_code": "es"}}}


def test_telegram_update_gets_sendmessage_reply(engine, bot_api):
    from centinela.web.app import create_app

    with TestClient(create_app(engine)) as client:
        assert client.post("/api/v1/assistant/telegram/wrong", json=update("hola")).status_code \
            == 404
        resp = client.post("/api/v1/assistant/telegram/hook-secret",
                           json=update("mi amigo no respira, labios morados"),
                           headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret"})
        assert resp.status_code == 200 and resp.json()["red_flag"] == "overdose"
        resp = client.post("/api/v1/assistant/telegram/hook-secret",
                           json=update("que es la naloxona", 2))
        assert resp.json()["replied"] and resp.json()["red_flag"] is None
        bad = client.post("/api/v1/assistant/telegram/hook-secret", json=update("x", 3),
                          headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
        assert bad.status_code == 403
        ignored = client.post("/api/v1/assistant/telegram/hook-secret",
                              json={"update_id": 5, "callback_query": {}})
        assert ignored.json()["replied"] is False
    assert [p for p, _ in bot_api] == ["/bot123:ABC/sendMessage"] * 2
    first, second = bot_api[0][1], bot_api[1][1]
    assert first["chat_id"] == 4242 and first["reply_to_message_id"] == 11
    assert "106" in first["text"]
    assert "naloxona" in second["text"].lower() and "Fuentes:" in second["text"]
