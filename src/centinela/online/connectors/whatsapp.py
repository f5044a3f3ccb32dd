"""WhatsApp chat exports (``.txt``), Android and iOS layouts, Spanish and English."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from centinela.lib.clock import LIMA
from centinela.online.connectors.base import ConnectorError, RawPost

_DATE = r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})"
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[\s\u202f\u00a0]*([apAP])\.?[\s\u202f\u00a0]?[mM]\.?)?"
ANDROID = re.compile(rf"^{_DATE},?\s{_TIME}\s[-–]\s(.*)$")
IOS = re.compile(rf"^\[{_DATE},?\s{_TIME}\]\s(.*)$")
_MARKS = "\u200e\u200f\ufeff"
# Android system lines have no "Name: " part; these are the common ones with a colon inside.
_SYSTEM_HINTS = re.compile(
    r"(cifrados de extremo a extremo|end-to-end encrypted|creó (el )?grupo|created group|"
    r"añadió|added|cambió (el asunto|la descripción|el ícono)|changed (the subject|this group)|"
    r"se unió|joined using|salió|left$|eliminó a|removed|código de seguridad|security code)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(<?(media omitted|multimedia omitido|archivo omitido)>?|(imagen|image|video|audio|sticker|gif|"
    r"documento|document) omitid[oa]|(imagen|image|video|audio|sticker|gif|document) omitted|"
    r"<attached: [^>]+>|this message was deleted|se eliminó este mensaje|eliminaste este mensaje|"
    r"you deleted this message|null|mensaje de voz omitido)$",
    re.IGNORECASE,
)
_EDITED = re.compile(r"\s*<(this message was edited|se editó este mensaje\.?)>\s*$", re.IGNORECASE)


@dataclass
class _Msg:
    line: int
    stamp: tuple[str, ...]
    author: str | None
    text: str
    system: bool


def _parse_lines(lines: list[str], name: str) -> tuple[list[_Msg], str]:
    msgs: list[_Msg] = []
    layout = ""
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        stripped = line.lstrip(_MARKS)
        m = IOS.match(stripped) or ANDROID.match(stripped)
        if m is None:
            if not msgs:
                if line.strip():
                    raise ConnectorError(f"{name}:{n}: not a WhatsApp export line (expected a date)")
                continue
            msgs[-1].text += "\n" + line  # continuation of a multi-line message
            continue
        layout = layout or ("ios" if stripped.startswith("[") else "android")
        rest = m.group(8)
        author, sep, text = rest.partition(": ")
        system = False
        if not sep:
            author, text, system = None, rest, True
        elif text.startswith("\u200e") or _SYSTEM_HINTS.search(author) or any(
                q in author for q in '"“”«'):
            system = True  # iOS marks system text with U+200E; Android puts it where a name goes
        msgs.append(_Msg(n, m.groups()[:7], author.lstrip(_MARKS) if author else None,
                         text.lstrip(_MARKS), system))
    return msgs, layout


def _day_first(msgs: list[_Msg]) -> bool:
    """Decide the date order from the whole file (Peru exports are day-first)."""
    if any(int(m.stamp[0]) > 12 for m in msgs):
        return True
    if any(int(m.stamp[1]) > 12 for m in msgs):
        return False
    return True


def _when(stamp: tuple[str, ...], day_first: bool, where: str) -> dt.datetime:
    a, b, year, hh, mm, ss, ampm = stamp
    day, month = (int(a), int(b)) if day_first else (int(b), int(a))
    y = int(year) + (2000 if len(year) == 2 else 0)
    hour = int(hh)
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "p" else 0)
    try:
        local = dt.datetime(y, month, day, hour, int(mm), int(ss or 0), tzinfo=LIMA)
    except ValueError as exc:
        raise ConnectorError(f"{where}: bad date or time ({exc})") from exc
    return local.astimezone(dt.UTC).replace(tzinfo=None)


class WhatsAppConnector:
    """Messages of a WhatsApp ``.txt`` export; system lines and media placeholders are skipped."""

    kind = "whatsapp"
    context = "chat"

    def read(self, path: Path, fetched_at: dt.datetime) -> Iterator[RawPost]:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        msgs, layout = _parse_lines(lines, path.name)
        day_first = _day_first(msgs)
        chat = re.sub(r"^(Chat de WhatsApp con |WhatsApp Chat with |WhatsApp Chat - )", "", path.stem)
        seen: dict[str, int] = {}
        for m in msgs:
            if m.system:
                continue
            text = _EDITED.sub("", m.text).strip()
            if not text or _PLACEHOLDER.match(text.lstrip(_MARKS)):
                continue
            where = f"{path.name}:{m.line}"
            when = _when(m.stamp, day_first, where)
            base = hashlib.sha256(f"{chat}|{when.isoformat()}|{m.author}|{text}".encode()).hexdigest()[:24]
            seen[base] = seen.get(base, 0) + 1  # identical messages in the same minute stay distinct
            yield RawPost(
                context=self.context, source_kind=self.kind, platform="whatsapp", source=path.name, text=text,
                fetched_at=fetched_at, native_id=f"{base}:{seen[base]}", author=m.author,
                author_id=f"wa:{chat}:{m.author}" if m.author else None, posted_at=when,
                extra={"chat": chat, "layout": layout, "line": m.line},
            )
