"""The public assistant: the chat page, its htmx turns and the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.public.abuse import AbuseError, check_rate
from centinela.public.assistant.engine import ask
from centinela.public.assistant.language import detect_language
from centinela.public.assistant.redflags import detect as detect_red_flag
from centinela.public.citizen_messages import rate_limited
from centinela.web.deps import db_session, lang
from centinela.web.routes.public import ERRORS, _client, _now, _problem, render

router = APIRouter()
ANSWER_LANGS = ("es", "en", "qu")  # what the chat page offers as the answer language


class AskBody(BaseModel):
    question: str = Field(max_length=1000)
    language: Literal["es", "en", "qu"] | None = None


@router.post("/api/v1/assistant/ask", tags=["public"], responses=ERRORS)
def api_ask(body: AskBody, request: Request, session: Session = Depends(db_session)):
    """Answer a question: answer, sources, red_flag, confidence, language (and kind)."""
    now = _now(request)
    # Red flags before any limit: an emergency is always answered, whatever came before.
    if detect_red_flag(body.question) is None:
        try:
            check_rate(session, "ask", _client(request, now, "ask"),
                       get_settings().public.asks_per_minute, dt.timedelta(minutes=1), now)
        except AbuseError:
            language = body.language or detect_language(body.question)
            resp = _problem(429, "question", rate_limited("ask", language), code="rate")
            resp.headers["Retry-After"] = "60"
            return resp
    return ask(body.question, body.language, session=session, now=now).as_dict()


@router.get("/asistente", response_class=HTMLResponse, include_in_schema=False)
def assistant_page(request: Request) -> HTMLResponse:
    """Show the chat widget."""
    return render(request, "public/assistant.html", {})


@router.post("/asistente/mensaje", response_class=HTMLResponse, include_in_schema=False)
def assistant_message(request: Request, question: str = Form(""), language: str = Form(""),
                      session: Session = Depends(db_session)) -> HTMLResponse:
    """Answer one chat message and return the two chat bubbles (htmx fragment); ``language``
    is the answer language chosen on the page (es, en, qu; empty: the question's)."""
    now = _now(request)
    if detect_red_flag(question) is None:
        try:
            check_rate(session, "ask", _client(request, now, "ask"),
                       get_settings().public.asks_per_minute, dt.timedelta(minutes=1), now)
        except AbuseError:
            language = (language if language in ANSWER_LANGS else
                        detect_language(question) if question.strip() else lang(request))
            return render(request, "public/_chat_turn.html",
                          {"question": question, "a": None, "limited": True,
                           "limited_text": rate_limited("ask", language)}, status_code=429)
    ui = lang(request)
    answer = ask(question, language if language in ANSWER_LANGS else None, session=session,
                 now=now)
    return render(request, "public/_chat_turn.html",
                  {"question": question, "a": answer.as_dict(), "ui": ui, "limited": False})
