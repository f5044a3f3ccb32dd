"""Telegram Desktop chat exports (``result.json``), single chat or full account export."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from centinela.online.connectors.base import ConnectorError, RawPost, parse_time


def flatten_text(value) -> str:
    """Join Telegram's ``text`` (a string or a list of strings and entity objects)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return ""
    parts = []
    for item in value:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            piece = str(item.get("text", ""))
            href = item.get("href")
            parts.append(f"{piece} ({href})" if href and href != piece else piece)
    return "".join(parts)


class TelegramConnector:
    """Messages of a Telegram Desktop export; service messages and empty media are skipped."""

    kind = "telegram"
    context = "chat"

    def read(self, path: Path, fetched_at: dt.datetime) -> Iterator[RawPost]:
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise ConnectorError(f"{path.name}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        if isinstance(data, dict) and "chats" in data:
            chats = data["chats"].get("list", []) if isinstance(data["chats"], dict) else []
        elif isinstance(data, dict) and "messages" in data:
            chats = [data]
        else:
            raise ConnectorError(f"{path.name}: not a Telegram export (no 'messages' or 'chats')")
        for chat in chats:
            yield from self._chat(chat, path, fetched_at)

    def _chat(self, chat: dict, path: Path, fetched_at: dt.datetime) -> Iterator[RawPost]:
        chat_id, chat_name = chat.get("id"), chat.get("name")
        chat_type = chat.get("type")
        messages = chat.get("messages")
        if not isinstance(messages, list):
            raise ConnectorError(f"{path.name}: chat {chat_name!r}: 'messages' must be a list")
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or msg.get("type") != "message":
                continue
            text = flatten_text(msg.get("text")).strip()
            if not text:
                continue
            where = f"{path.name}: chat {chat_name!r} message {msg.get('id', i)}"
            when = parse_time(msg.get("date_unixtime"), where) if msg.get("date_unixtime") \
                else parse_time(msg.get("date"), where)
            username = None
            if isinstance(chat_name, str) and chat_type in ("public_channel", "public_supergroup"):
                username = chat.get("username")
            yield RawPost(
                context=self.context, source_kind=self.kind, platform="telegram", source=path.name, text=text,
                fetched_at=fetched_at, native_id=f"{chat_id}:{msg.get('id', i)}",
                author=msg.get("from") or msg.get("actor") or chat_name,
                author_id=f"tg:{msg['from_id']}" if msg.get("from_id") else None,
                posted_at=when,
                url=f"https://t.me/{username}/{msg.get('id')}" if username else None,
                extra={"chat": chat_name, "chat_id": chat_id, "chat_type": chat_type,
                       "message_id": msg.get("id"), "forwarded_from": msg.get("forwarded_from")},
            )
