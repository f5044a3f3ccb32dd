"""Messaging adapters: an SMS/messaging report flow in a single-message format, and the public
assistant behind a Telegram bot (Update in, ``sendMessage`` out through ``centinela.http``).

SMS format (one message, case-insensitive; documented in docs/public.md):
    DENUNCIA <ubigeo or place>: <what you saw>   → files a report, replies with the code
    ESTADO <code>                                → replies with the status
    INFO <code> <more information>               → adds information to the report
    anything else                                → replies with these instructions
The sender's number is used only for a daily-rotating rate-limit hash and is never stored.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.orm import Session

from centinela import http
from centinela.config import get_settings
from centinela.lib.text import deleet
from centinela.lib.text import fold_keep_enye as fold
from centinela.public.abuse import AbuseError, check_rate, daily_client_hash
from centinela.public.assistant.engine import ask, red_flag_text
from centinela.public.assistant.language import detect_language
from centinela.public.assistant.redflags import detect as detect_red_flag
from centinela.public.citizen_messages import field_message, rate_limited
from centinela.public.codes import looks_like_code
from centinela.public.intake import (
    ReportError,
    ReportInput,
    add_info,
    find_by_code,
    public_status,
    submit,
)
from centinela.public.places import find_place
from centinela.reference import ubigeo as ref

STATUS_ES = {"received": "recibida", "in_review": "en revisión", "forwarded": "derivada a la "
             "autoridad competente", "closed": "cerrada"}
SMS_HELP = ("Centinela. Para denunciar envíe: DENUNCIA <distrito>: <qué vio>. Ej: DENUNCIA "
            "Miraflores, Lima: venden ampollas de fentanilo sin receta en botica Sol. Para ver el "
            "estado: ESTADO <código>. Para agregar datos: INFO <código> <texto>. También: "
            "Central Única de Denuncias 1818. Emergencias: 106.")
_KIND_CUES = (
    ("online_offer", r"\b(internet|facebook|whatsapp|instagram|tiktok|telegram|web|online|"
                     r"pagina|grupo|marketplace)\b"),
    # fenta, fentanilo, fentanyl, fentan1l (leetspeak undone first), fenty, ampollas
    ("fentanyl_no_rx", r"\b(fent[a-z]*|ampoll\w*|ampul\w*|ampoule\w*)\b"),
    ("pills", r"\b(pastilla\w*|pildora\w*|tableta\w*)\b"),
    ("suspicious_pharmacy", r"\b(farmacia\w*|botica\w*)\b"),
)
_CODE = r"([0-9A-Za-z]{4}(?:[- ]?[0-9A-Za-z]{4}){4})"


def infer_kind(text: str) -> str:
    """Guess the report kind from free text (fentanyl before pills before pharmacy)."""
    folded = deleet(fold(text))
    for kind, pattern in _KIND_CUES:
        if re.search(pattern, folded):
            return kind
    return "other"


def _parse_place(rest: str) -> tuple[str | None, str]:
    m = re.match(r"^\s*(\d{5,6})\b[\s:,-]*(.*)$", rest, re.S)
    if m:
        return m.group(1).zfill(6), m.group(2).strip()
    if ":" in rest:
        place, text = rest.split(":", 1)
        return find_place(place), text.strip()
    return find_place(rest), rest.strip()


def handle_sms(session: Session, sender: str, body: str, now: dt.datetime) -> str:
    """Handle one inbound message and return the reply text (Spanish).

    A message that describes an emergency is answered with the emergency numbers first, before
    any rate limit or command parsing (a report that describes one is still filed).
    """
    body = (body or "").strip()
    command, _, rest = body.partition(" ")
    command = fold(command).rstrip(":")
    # A tracking code is random letters: "ESTADO QHTD-AKBF-…" must not read as an emergency,
    # so the codes of a status query are left out of the red-flag check (its words are not).
    judged = body
    if command in ("estado", "status"):
        judged = " ".join(w for w in rest.split() if not looks_like_code(w.strip(".,;:")))
    flag = detect_red_flag(judged) if judged.strip() else None
    emergency = None
    if flag is not None:
        language = detect_language(body)
        emergency = red_flag_text(flag.category, judged, language)
        if command not in _REPORT_COMMANDS + ("info", "dato", "datos", "agregar"):
            return emergency
    try:
        check_rate(session, "sms", daily_client_hash(sender or "unknown", now.date(), "sms"),
                   limit=get_settings().public.reports_per_day * 4,
                   window=dt.timedelta(days=1), now=now)
    except AbuseError:
        return emergency or rate_limited("sms", "es")
    reply = _handle_command(session, command, rest, now)
    return f"{emergency}\n\n{reply}" if emergency else reply


_REPORT_COMMANDS = ("denuncia", "denunciar", "reporte", "reportar", "report")


def _handle_command(session: Session, command: str, rest: str, now: dt.datetime) -> str:
    """Run one SMS command (DENUNCIA, ESTADO, INFO) and return the reply."""
    if command in _REPORT_COMMANDS:
        ubigeo, text = _parse_place(rest)
        if not ubigeo:
            return ("No reconocí el distrito. Escriba: DENUNCIA <distrito, provincia>: <qué vio> "
                    "o use el código de 6 dígitos del distrito (ubigeo).")
        try:
            report, code = submit(session, ReportInput(kind=infer_kind(text), ubigeo=ubigeo,
                                                       text=text), channel="sms", now=now)
        except ReportError as exc:
            return f"No se pudo registrar. {field_message(exc.field, str(exc), 'es')} {SMS_HELP}"
        d = ref.get(report.ubigeo)
        return (f"Denuncia recibida ({d.district if d else report.ubigeo}). Su código de "
                f"seguimiento es {code} — guárdelo, no podemos recuperarlo. Consulte con: ESTADO "
                f"{code}. También puede llamar a la Central Única de Denuncias: 1818.")
    if command in ("estado", "status"):
        report = find_by_code(session, rest)
        if report is None:
            return "No encontramos ese código. Revise que esté completo (20 caracteres)."
        st = public_status(session, report)
        last = next((e["note"] for e in reversed(st["timeline"]) if e["note"]), "")
        return (f"Su denuncia {st['report_id']} está {STATUS_ES[st['status']]}."
                + (f" Nota: {last}" if last else ""))
    if command in ("info", "dato", "datos", "agregar"):
        m = re.match(rf"^\s*{_CODE}\s*[:,-]?\s*(.*)$", rest, re.S)
        report = find_by_code(session, m.group(1)) if m else None
        if report is None:
            return "No encontramos ese código. Escriba: INFO <código> <nueva información>."
        try:
            add_info(session, report, m.group(2), None, now)
        except ReportError as exc:
            return f"No se pudo agregar. {field_message(exc.field, str(exc), 'es')}"
        return "Información agregada a su denuncia. Gracias."
    return SMS_HELP


TELEGRAM_WELCOME = {
    "es": "Hola, soy el asistente de Centinela. Pregúnteme sobre fentanilo, opioides, "
          "sobredosis, tratamiento o cómo denunciar. No soy médico. Emergencias: 106 (SAMU).",
    "en": "Hi, I am Centinela's assistant. Ask me about fentanyl, opioids, overdose, treatment "
          "or how to report. I am not a doctor. Emergencies: 106 (SAMU).",
}


def format_answer(answer: dict) -> str:
    """Render an assistant answer as plain text with its sources (for messaging apps)."""
    parts = [answer["answer"]]
    if answer.get("note"):
        parts.append(answer["note"])
    if answer.get("sources"):
        label = "Fuentes" if answer["language"] != "en" else "Sources"
        parts.append(label + ": " + "; ".join(f"{s['org']} — {s['title']}"
                                              for s in answer["sources"]))
    return "\n\n".join(parts)


def telegram_reply(session: Session, update: dict, now: dt.datetime) -> dict | None:
    """Answer a Telegram Update; send it with ``sendMessage`` when a bot token is set.

    Returns the ``sendMessage`` payload (None for updates without text). Nothing about the
    chat is stored.
    """
    message = update.get("message") or update.get("edited_message") or {}
    text = message.get("text")
    chat_id = (message.get("chat") or {}).get("id")
    if not text or chat_id is None:
        return None
    user_lang = ((message.get("from") or {}).get("language_code") or "")[:2]
    if text.strip().split()[0].lower().split("@")[0] in ("/start", "/ayuda", "/help"):
        reply = TELEGRAM_WELCOME["en" if user_lang == "en" else "es"]
        red_flag = None
    else:
        answer = ask(text, session=session, now=now).as_dict()
        reply, red_flag = format_answer(answer), answer["red_flag"]
    payload = {"chat_id": chat_id, "text": reply[:4096]}
    if message.get("message_id") is not None:
        payload["reply_to_message_id"] = message["message_id"]
    settings = get_settings().public
    if settings.telegram_bot_token:
        url = f"{settings.telegram_api_base.rstrip('/')}/bot{settings.telegram_bot_token}/sendMessage"
        resp = http.post(url, json=payload)
        resp.raise_for_status()
    return {**payload, "red_flag": red_flag}
