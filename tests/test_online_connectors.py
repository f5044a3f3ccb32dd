"""Connectors: each export format's quirks, provenance and idempotency keys."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from centinela.online.connectors import ConnectorError, detect_format, get_connector
from centinela.online.connectors.telegram import flatten_text

FIX = Path(__file__).parent / "fixtures" / "online"
NOW = dt.datetime(2025, 12, 1)


def read(name: str, fmt: str | None = None):
    path = FIX / name
    return list(get_connector(fmt or detect_format(path)).read(path, NOW))


def test_posts_csv_reads_times_with_and_without_offset():
    posts = read("posts.csv")
    assert len(posts) == 8
    first = posts[0]
    assert first.platform == "facebook" and first.author == "Farma Delivery Norte"
    assert first.posted_at == dt.datetime(2025, 11, 4, 2, 14)  # -05:00 → UTC
    naive = next(p for p in posts if p.author == "@bluesline_lima")
    assert naive.posted_at == dt.datetime(2025, 11, 7, 3, 40)  # no offset = Lima
    assert first.native_id == first.url and first.provenance()["location"] == "posts.csv:2"


def test_posts_jsonl_and_unknown_column_rejected(tmp_path):
    assert [p.platform for p in read("posts.jsonl")] == ["x", "x", "reddit"]
    bad = tmp_path / "bad.csv"
    bad.write_text("platform,text,likes\nfacebook,hola,3\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match=r"bad.csv:1: unknown column\(s\) \['likes'\]"):
        list(get_connector("posts").read(bad, NOW))
    badtime = tmp_path / "t.jsonl"
    badtime.write_text(json.dumps({"text": "x", "time": "ayer"}) + "\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match="t.jsonl:1 time: time 'ayer' is not ISO 8601"):
        list(get_connector("posts").read(badtime, NOW))


def test_darknet_listing_text_and_ids():
    listings = read("darknet_listings.csv")
    assert detect_format(FIX / "darknet_listings.csv") == "darknet"
    first = listings[0]
    assert first.native_id == "L-9001" and first.platform == "andes"
    assert "Price: USD 900" in first.text and "Ships from Peru to Peru/Ecuador" in first.text
    assert first.author_id == "andes:andes_pharma"


def test_telegram_entities_service_and_media_messages():
    msgs = read("telegram/result.json")
    assert [m.extra["message_id"] for m in msgs] == [2, 3, 4, 6]  # service and photo-only skipped
    entity_msg = msgs[2]
    assert entity_msg.text.startswith("FENTANILO 0.5mg al por mayor")
    assert "(https://t.me/eltio_norte)" in entity_msg.text and "@eltio_norte" in entity_msg.text
    assert entity_msg.native_id == "1698765432:4" and entity_msg.author_id == "tg:user555001"
    assert msgs[0].posted_at == dt.datetime(2025, 11, 1, 14, 5)  # from date_unixtime (UTC)
    assert flatten_text(["a", {"type": "bold", "text": "b"}, 3]) == "ab"


def test_telegram_full_account_export(tmp_path):
    chat = json.loads((FIX / "telegram" / "result.json").read_text(encoding="utf-8"))
    full = tmp_path / "result.json"
    full.write_text(json.dumps({"about": "x", "chats": {"about": "y", "list": [chat]}}), encoding="utf-8")
    assert len(list(get_connector("telegram").read(full, NOW))) == 4


def test_whatsapp_android_multiline_system_media_and_12h():
    msgs = read("Chat de WhatsApp con Ventas Lima Norte.txt")
    assert [m.author for m in msgs] == ["+51 912 345 678", "Lucho", "Rosa", "+51 912 345 678"]
    assert msgs[0].text.count("\n") == 3 and "pago por plin" in msgs[0].text
    assert msgs[1].text == "cuánto por 10?"  # edit marker stripped
    assert msgs[2].posted_at == dt.datetime(2025, 11, 13, 14, 16)  # 9:16 a. m. Lima
    assert msgs[0].extra["chat"] == "Ventas Lima Norte" and msgs[0].extra["layout"] == "android"


def test_whatsapp_ios_layout_and_system_marker():
    msgs = read("whatsapp_ios.txt")
    assert [m.author for m in msgs] == ["Kike", "Sofi", "Kike"]
    assert msgs[0].text.endswith("yape al 956 111 222") and msgs[0].extra["layout"] == "ios"
    assert msgs[0].posted_at == dt.datetime(2025, 11, 4, 3, 15, 10)


def test_whatsapp_month_first_detected_and_bad_file(tmp_path):
    us = tmp_path / "us.txt"
    us.write_text("3/25/25, 9:05 PM - Bob: got blues\n", encoding="utf-8")
    (msg,) = list(get_connector("whatsapp").read(us, NOW))
    assert msg.posted_at == dt.datetime(2025, 3, 26, 2, 5)
    bad = tmp_path / "notes.txt"
    bad.write_text("hola\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match="notes.txt:1: not a WhatsApp export line"):
        list(get_connector("whatsapp").read(bad, NOW))


def test_keys_are_stable_and_distinct():
    a, b = read("whatsapp_ios.txt"), read("whatsapp_ios.txt")
    assert [p.post_key() for p in a] == [p.post_key() for p in b]
    assert len({p.post_key() for p in a}) == 3
