"""Public channels on the web: anonymous report form and follow-up, the assistant chat, the
treatment-services finder, their JSON API twins, messaging webhooks, and analyst triage.

The client address is hashed at once with a key that rotates daily and is never stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import INVESTIGATORS
from centinela.config import get_settings
from centinela.lib.clock import utcnow
from centinela.public import directory
from centinela.public.abuse import AbuseError, check_rate, daily_client_hash, new_challenge
from centinela.public.abuse import verify_challenge as _verify
from centinela.public.assistant.engine import ask
from centinela.public.assistant.language import detect_language
from centinela.public.assistant.messages import RED_FLAG
from centinela.public.assistant.redflags import detect as detect_red_flag
from centinela.public.citizen_messages import (
    FIELD_LABELS,
    abuse_message,
    field_message,
    rate_limited,
    tel_links,
    ui_lang,
)
from centinela.public.intake import (
    ReportError,
    ReportInput,
    add_info,
    find_by_code,
    public_status,
    submit,
)
from centinela.public.messaging import handle_sms, telegram_reply
from centinela.public.models import REPORT_HOWS, REPORT_KINDS, REPORT_STATUSES, ReportPhoto
from centinela.public.photos import PhotoError
from centinela.public.text import collation_key
from centinela.public.triage import TriageError, row_json, set_status, triage
from centinela.reference import ubigeo as ref
from centinela.web.deps import TEMPLATES_DIR, db_session, lang, require_roles
from centinela.web.deps import render as _render


class ErrorDetail(BaseModel):
    field: str = Field(description="The input field at fault, as the API names it.")
    message: str = Field(description="What is wrong and what to do, in the user's language.")
    code: str | None = Field(None, description="Machine code of an abuse check (rate, answer…).")


class ErrorBody(BaseModel):
    error: ErrorDetail
    emergency: str | None = Field(None, description="Emergency answer when the input describes "
                                                    "one (shown before anything else).")


ERRORS = {code: {"model": ErrorBody} for code in (400, 404, 422, 429)}
router = APIRouter()
analyst = require_roles(*INVESTIGATORS)  # analysts and the police triage citizen reports
admin_only = require_roles("admin")
CENTRAL_DENUNCIAS = {"name": "Central Única de Denuncias (Ministerio del Interior)",
                     "phone": "1818"}


def render(request: Request, name: str, context: dict, status_code: int = 200):
    """Render a page; an explicit ``?lang=`` is remembered in the language cookie."""
    context = {"tel": tel_links, **context}
    resp = _render(request, name, context, status_code=status_code)
    chosen = request.query_params.get("lang")
    if chosen in ("es", "en"):
        resp.set_cookie("lang", chosen, max_age=365 * 86400, samesite="lax")
    return resp


PUBLIC_API = ("/api/v1/reports", "/api/v1/assistant", "/api/v1/services", "/api/v1/places")


def _validation_shape(request: Request, exc) -> JSONResponse | None:
    """Public API input errors in the documented ``{"error": {"field", "message"}}`` shape."""
    if not request.url.path.startswith(PUBLIC_API):
        return None
    body = getattr(exc, "body", None)
    question = body.get("question") if isinstance(body, dict) else None
    if request.url.path == "/api/v1/assistant/ask" and isinstance(question, str):
        # Even a malformed request (too long, bad language code) gets the emergency answer.
        answer = ask(question, None)
        if answer.kind == "red_flag":
            return JSONResponse(answer.as_dict())
    first = (exc.errors() or [{}])[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    top = loc[0] if loc else "body"
    ul = lang(request)
    if top in FIELD_LABELS:
        message = field_message(top, "", ul)
    else:
        message = ("Revise este dato: " if ul == "es" else "Check this value: ") + field
    text = body.get("text") if isinstance(body, dict) else None
    emergency = _emergency(text, ui_lang(ul)) if isinstance(text, str) else None
    return _problem(422, field, message, emergency=emergency)


def setup(app) -> None:
    """Let the SMS gateway post forms without a browser's CSRF cookie (secret path instead);
    shape the public API's input errors like its other errors."""
    app.state.csrf_exempt.add("/api/v1/reports/sms/")
    app.state.validation_error_shape = _validation_shape
    # Train the small crisis model now, off the request path, so that the first message that
    # needs it (a crisis in words the lexicon does not list) is not the one that waits.
    import threading

    from centinela.public.assistant.crisis_model import model

    threading.Thread(target=model, name="crisis-model-warmup", daemon=True).start()


def _now(request: Request) -> dt.datetime:
    """Current naive-UTC time; tests may set ``app.state.public_clock`` or ``app.state.clock``."""
    clock = getattr(request.app.state, "public_clock", None) or getattr(
        request.app.state, "clock", None)
    return clock() if clock else utcnow()


@router.get("/reportar/public.js", include_in_schema=False)
def public_js() -> Response:
    """The small script of the public pages (no inline scripts under the CSP)."""
    path = TEMPLATES_DIR / "public" / "public.js"
    return Response(path.read_text(encoding="utf-8"), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})


def _client(request: Request, now: dt.datetime, purpose: str) -> str:
    """Daily-rotating keyed hash of the connection; the raw address goes no further."""
    host = request.client.host if request.client else "unknown"
    return daily_client_hash(host, now.date(), purpose)


# ---------------------------------------------------------------- places (cascading selects)


def _places(department: str | None, province: str | None) -> list[dict]:
    """Places in Spanish (es-PE) alphabetical order: "Áncash" right after "Amazonas"."""
    if province:
        rows = ({"code": d.ubigeo, "name": d.district}
                for d in ref.districts().values() if d.province_code == province)
    elif department:
        rows = ({"code": code, "name": names[1]} for code, names in ref.provinces().items()
                if code[:2] == department)
    else:
        rows = ({"code": c, "name": n} for c, n in ref.departments().items())
    return sorted(rows, key=lambda p: collation_key(p["name"]))


def _place_choices(ubigeo: str | None, department: str | None = None,
                   province: str | None = None) -> dict:
    """The three cascading lists with the person's choice kept (after an error, on reload)."""
    code = (ubigeo or "").strip()
    if code and ref.is_valid(code.zfill(6)):
        code = code.zfill(6)
        department, province = code[:2], code[:4]
    department = department or None
    province = province if province and department and province[:2] == department else None
    return {
        "departments": _places(None, None),
        "provinces": _places(department, None) if department else [],
        "districts": _places(None, province) if province else [],
        "chosen": {"department": department or "", "province": province or "",
                   "ubigeo": code if province else ""},
    }


@router.get("/api/v1/places", tags=["public"])
def api_places(department: str | None = None, province: str | None = None) -> dict:
    """Departments, a department's provinces, or a province's districts (INEI codes)."""
    return {"places": _places(department, province)}


@router.get("/reportar/lugares", response_class=HTMLResponse, include_in_schema=False)
def places_options(request: Request, department: str | None = None,
                   province: str | None = None) -> HTMLResponse:
    """Return <option> elements for the htmx cascade."""
    level = "district" if province else "province"
    return render(request, "public/_options.html",
                  {"places": _places(department, province), "level": level})


# ---------------------------------------------------------------- report form


def _form_context(request: Request, now: dt.datetime, **extra) -> dict:
    values = extra.get("values") or {}
    ctx = {"challenge": new_challenge(now), "kinds": REPORT_KINDS, "hows": REPORT_HOWS,
           "central": CENTRAL_DENUNCIAS, "values": {}, "error": None, "error_field": None,
           "emergency": None,
           **_place_choices(values.get("ubigeo"), values.get("department"),
                            values.get("province"))}
    ctx.update(extra)
    return ctx


def _emergency(text: str, ui: str) -> str | None:
    """The emergency answer when a report or message describes one (shown before anything)."""
    flag = detect_red_flag(text or "")
    if flag is None:
        return None
    language = detect_language(text)
    language = language if language in ("es", "en", "qu") else ui
    return RED_FLAG[flag.category][language]


def _citizen_error(exc: Exception, ui: str, bucket: str = "report") -> tuple[str, str]:
    """(field, message in the person's language) for an error raised while filing."""
    if isinstance(exc, AbuseError):
        if exc.code == "rate":
            return "challenge", rate_limited(bucket, ui)
        return "challenge", abuse_message(exc.code, ui)
    if isinstance(exc, ReportError):
        return exc.field, field_message(exc.field, str(exc), ui)
    if isinstance(exc, PhotoError):
        return "photo", field_message("photo", str(exc), ui)
    return "body", field_message("body", str(exc), ui)


@router.get("/reportar", response_class=HTMLResponse, include_in_schema=False)
def report_form(request: Request) -> HTMLResponse:
    """Show the anonymous report form (the page may ask the browser for a location)."""
    resp = render(request, "public/report_form.html", _form_context(request, _now(request)))
    resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(self)"
    return resp


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        raise ReportError("location", "latitude and longitude must be numbers") from None


def _date(value: str | None) -> dt.date | None:
    """ISO dates from the date picker, or day/month/year as people type them."""
    if not value:
        return None
    value = value.strip()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return dt.datetime.strptime(value.replace("-", "/").replace(".", "/"), "%d/%m/%Y").date()
    except ValueError:
        raise ReportError("occurred_on", "use the format YYYY-MM-DD") from None


async def _read_photo(upload: UploadFile | None) -> bytes | None:
    if upload is None or not upload.filename:
        return None
    limit = get_settings().public.photo_max_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PhotoError(f"photo: larger than {limit // 1_000_000} MB")
    return data or None


@router.post("/reportar", response_class=HTMLResponse, include_in_schema=False)
async def report_submit(
    request: Request,
    session: Session = Depends(db_session),
    kind: str = Form(""), ubigeo: str = Form(""), how: str = Form(""),
    occurred_on: str = Form(""), establishment_name: str = Form(""), contact: str = Form(""),
    text: str = Form(""), latitude: str = Form(""), longitude: str = Form(""),
    challenge_token: str = Form(""), challenge_answer: str = Form(""),
    website: str = Form(""),  # honeypot: hidden from people, filled by bots
    photo: UploadFile | None = File(None),
) -> HTMLResponse:
    """File a report from the web form and show the follow-up code."""
    now = _now(request)
    form = await request.form()
    values = {"kind": kind, "ubigeo": ubigeo, "how": how, "occurred_on": occurred_on,
              "establishment_name": establishment_name, "contact": contact, "text": text,
              "latitude": latitude, "longitude": longitude,
              "department": str(form.get("department") or ""),
              "province": str(form.get("province") or "")}
    ui = ui_lang(lang(request))
    emergency = _emergency(text, ui)

    def file_report(photo_bytes: bytes | None):
        _verify(session, challenge_token, challenge_answer, now, honeypot=website)
        check_rate(session, "report", _client(request, now, "report"),
                   get_settings().public.reports_per_day, dt.timedelta(days=1), now)
        data = ReportInput(kind=kind, ubigeo=ubigeo, how=how or None,
                           occurred_on=_date(occurred_on),
                           establishment_name=establishment_name, contact=contact, text=text,
                           latitude=_float(latitude), longitude=_float(longitude),
                           photo=photo_bytes)
        return submit(session, data, channel="web", now=now)

    try:
        # Upload read first, database work in a worker thread: a SQLite writer waiting for the
        # lock must never block the event loop that the lock's holder needs to commit.
        report, code = await run_in_threadpool(file_report, await _read_photo(photo))
    except (AbuseError, ReportError, PhotoError) as exc:
        session.rollback()
        status = 429 if isinstance(exc, AbuseError) and exc.code == "rate" else 422
        field, message = _citizen_error(exc, ui)
        return render(request, "public/report_form.html",
                      _form_context(request, now, values=values, error=message,
                                    error_field=field, emergency=emergency),
                      status_code=status)
    return render(request, "public/report_done.html",
                  {"code": code, "report_id": report.report_id, "central": CENTRAL_DENUNCIAS,
                   "emergency": emergency})


# ---------------------------------------------------------------- follow-up by code


@router.get("/reportar/seguimiento", response_class=HTMLResponse, include_in_schema=False)
def follow_form(request: Request) -> HTMLResponse:
    """Ask for the follow-up code (sent by POST so it stays out of URLs and logs)."""
    return render(request, "public/report_status.html", {"status": None, "error": None})


@router.post("/reportar/seguimiento", response_class=HTMLResponse, include_in_schema=False)
def follow_show(request: Request, code: str = Form(""),
                session: Session = Depends(db_session)) -> HTMLResponse:
    """Show the status and public timeline of the report with this code."""
    now = _now(request)
    try:
        check_rate(session, "status", _client(request, now, "status"), 60,
                   dt.timedelta(hours=1), now)
    except AbuseError:
        return render(request, "public/report_status.html",
                      {"status": None, "error": rate_limited("status", ui_lang(lang(request)))},
                      status_code=429)
    report = find_by_code(session, code)
    if report is None:
        return render(request, "public/report_status.html",
                      {"status": None, "error": "not_found"}, status_code=404)
    return render(request, "public/report_status.html",
                  {"status": public_status(session, report), "code": code, "error": None})


@router.post("/reportar/seguimiento/info", response_class=HTMLResponse, include_in_schema=False)
async def follow_add(request: Request, code: str = Form(""), text: str = Form(""),
                     photo: UploadFile | None = File(None),
                     session: Session = Depends(db_session)) -> HTMLResponse:
    """Add information to the report with this code."""
    now = _now(request)
    report = find_by_code(session, code)
    if report is None:
        return render(request, "public/report_status.html",
                      {"status": None, "error": "not_found"}, status_code=404)
    try:
        photo_bytes = await _read_photo(photo)
        await run_in_threadpool(add_info, session, report, text, photo_bytes, now)
    except (ReportError, PhotoError) as exc:
        session.rollback()
        return render(request, "public/report_status.html",
                      {"status": public_status(session, report), "code": code,
                       "error": _citizen_error(exc, ui_lang(lang(request)))[1],
                       "text": text}, status_code=422)
    return render(request, "public/report_status.html",
                  {"status": public_status(session, report), "code": code, "error": None,
                   "added": True})


# ---------------------------------------------------------------- report JSON API


class Challenge(BaseModel):
    token: str
    answer: str


class ReportBody(BaseModel):
    kind: Literal[REPORT_KINDS]  # type: ignore[valid-type]
    ubigeo: str = Field(min_length=5, max_length=6)
    text: str = Field("", max_length=4000)
    how: Literal[REPORT_HOWS] | None = None  # type: ignore[valid-type]
    occurred_on: dt.date | None = None
    establishment_name: str | None = Field(None, max_length=300)
    contact: str | None = Field(None, max_length=300,
                                description="The seller's phone, handle or link (never yours).")
    latitude: float | None = None
    longitude: float | None = None
    photo_base64: str | None = Field(None, description="JPEG or PNG, base64; metadata stripped.")
    challenge: Challenge


class InfoBody(BaseModel):
    text: str = Field("", max_length=4000)
    photo_base64: str | None = None


def _b64(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PhotoError("photo_base64: not valid base64") from None


def _problem(status: int, field: str, message: str, code: str | None = None,
             emergency: str | None = None) -> JSONResponse:
    """The public API's error shape; ``emergency`` carries an emergency answer if one applies."""
    error: dict = {"field": field, "message": message}
    if code:
        error["code"] = code
    body: dict = {"error": error}
    if emergency:
        body["emergency"] = emergency
    return JSONResponse(body, status_code=status)


@router.get("/api/v1/reports/challenge", tags=["public"])
def api_challenge(request: Request) -> dict:
    """Return a light challenge to answer when filing a report (no identity involved)."""
    ch = new_challenge(_now(request))
    return {"token": ch["token"], "question": ch["question"],
            "min_seconds": get_settings().public.min_submit_seconds}


@router.post("/api/v1/reports", tags=["public"], status_code=201, responses=ERRORS)
def api_report(body: ReportBody, request: Request, session: Session = Depends(db_session)):
    """File an anonymous report; the response holds the follow-up code (shown only once)."""
    now = _now(request)
    ui = ui_lang(lang(request))
    emergency = _emergency(body.text, ui)
    try:
        _verify(session, body.challenge.token, body.challenge.answer, now)
        check_rate(session, "report", _client(request, now, "report"),
                   get_settings().public.reports_per_day, dt.timedelta(days=1), now)
        report, code = submit(session, ReportInput(
            kind=body.kind, ubigeo=body.ubigeo, text=body.text, how=body.how,
            occurred_on=body.occurred_on, establishment_name=body.establishment_name,
            contact=body.contact, latitude=body.latitude, longitude=body.longitude,
            photo=_b64(body.photo_base64)), channel="api", now=now)
    except (AbuseError, ReportError, PhotoError) as exc:
        session.rollback()
        field, message = _citizen_error(exc, ui)
        status = 422
        if isinstance(exc, AbuseError):
            status = 429 if exc.code == "rate" else 400
        return _problem(status, field, message, code=getattr(exc, "code", None),
                        emergency=emergency)
    return JSONResponse({"report_id": report.report_id, "code": code, "status": report.status,
                         "central_denuncias": CENTRAL_DENUNCIAS, "emergency": emergency},
                        status_code=201)


@router.get("/api/v1/reports/status/{code}", tags=["public"], responses=ERRORS)
def api_status(code: str, request: Request, session: Session = Depends(db_session)):
    """Return the status and public timeline of the report with this follow-up code."""
    now = _now(request)
    try:
        check_rate(session, "status", _client(request, now, "status"), 60,
                   dt.timedelta(hours=1), now)
    except AbuseError:
        return _problem(429, "code", rate_limited("status", ui_lang(lang(request))),
                        code="rate")
    report = find_by_code(session, code)
    if report is None:
        return _problem(404, "code", _not_found(request))
    return public_status(session, report)


@router.post("/api/v1/reports/status/{code}/info", tags=["public"], responses=ERRORS)
def api_add_info(code: str, body: InfoBody, request: Request,
                 session: Session = Depends(db_session)):
    """Add text and/or a photo to the report with this follow-up code."""
    report = find_by_code(session, code)
    if report is None:
        return _problem(404, "code", _not_found(request))
    try:
        add_info(session, report, body.text, _b64(body.photo_base64), _now(request))
    except (ReportError, PhotoError) as exc:
        session.rollback()
        return _problem(422, *_citizen_error(exc, ui_lang(lang(request))))
    return public_status(session, report)


def _not_found(request: Request) -> str:
    if ui_lang(lang(request)) == "en":
        return "No report has this follow-up code. Check that all 20 characters are there."
    return "Ningún reporte tiene este código. Revise que tenga los 20 caracteres."


def _secret_ok(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@router.post("/api/v1/reports/sms/{secret}", tags=["public"])
async def sms_webhook(secret: str, request: Request, session: Session = Depends(db_session)):
    """SMS/messaging gateway webhook: JSON {from, text} or Twilio-style form (From, Body)."""
    if not _secret_ok(secret, get_settings().public.sms_webhook_secret):
        raise HTTPException(status_code=404)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        data = await request.json()
        sender, body, twiml = str(data.get("from", "")), str(data.get("text", "")), False
    else:
        form = await request.form()
        sender, body, twiml = str(form.get("From", "")), str(form.get("Body", "")), True
    reply = handle_sms(session, sender, body, _now(request))
    if twiml:
        from xml.sax.saxutils import escape

        xml = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(reply)}' \
              f"</Message></Response>"
        return Response(xml, media_type="application/xml")
    return {"reply": reply}


# ---------------------------------------------------------------- assistant


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
def assistant_message(request: Request, question: str = Form(""),
                      session: Session = Depends(db_session)) -> HTMLResponse:
    """Answer one chat message and return the two chat bubbles (htmx fragment)."""
    now = _now(request)
    if detect_red_flag(question) is None:
        try:
            check_rate(session, "ask", _client(request, now, "ask"),
                       get_settings().public.asks_per_minute, dt.timedelta(minutes=1), now)
        except AbuseError:
            language = detect_language(question) if question.strip() else lang(request)
            return render(request, "public/_chat_turn.html",
                          {"question": question, "a": None, "limited": True,
                           "limited_text": rate_limited("ask", language)}, status_code=429)
    ui = lang(request)
    answer = ask(question, None, session=session, now=now)
    return render(request, "public/_chat_turn.html",
                  {"question": question, "a": answer.as_dict(), "ui": ui, "limited": False})


@router.post("/api/v1/assistant/telegram/{secret}", tags=["public"])
async def telegram_webhook(secret: str, request: Request, session: Session = Depends(db_session)):
    """Telegram Bot API webhook: receive an Update, reply with sendMessage."""
    settings = get_settings().public
    if not _secret_ok(secret, settings.telegram_webhook_secret):
        raise HTTPException(status_code=404)
    header = request.headers.get("x-telegram-bot-api-secret-token")
    if header is not None and not _secret_ok(header, settings.telegram_webhook_secret):
        raise HTTPException(status_code=403)
    update = await request.json()
    sent = telegram_reply(session, update, _now(request))
    return {"ok": True, "replied": sent is not None,
            "red_flag": sent.get("red_flag") if sent else None}


# ---------------------------------------------------------------- treatment services


class ServiceBody(BaseModel):
    name: str = Field(min_length=2, max_length=300)
    ubigeo: str = Field(min_length=5, max_length=6)
    kind: Literal["hospital", "csmc", "other"] = "csmc"
    address: str = ""
    phone: str = ""
    hours: str = ""
    latitude: float | None = None
    longitude: float | None = None
    institution: str = "MINSA"
    source: str = ""
    service_id: str | None = None


def _nearest_context(session: Session, ubigeo: str | None, kind: str | None, limit: int,
                     now: dt.datetime) -> dict:
    d = ref.get((ubigeo or "").zfill(6)) if ubigeo else None
    found = directory.nearest(session, d.ubigeo, limit=limit, kind=kind, now=now) if d else []
    specialised, note = (directory.mental_health_nearby(session, d.ubigeo, now=now)
                         if d and kind in (None, "csmc") else ([], None))
    return {"ubigeo": d.ubigeo if d else None,
            "place": f"{d.district}, {d.province}, {d.department}" if d else None,
            "services": [n.as_dict() for n in found],
            "mental_health": [n.as_dict() for n in specialised],
            "mental_health_note": note}


@router.get("/api/v1/services/nearest", tags=["public"], responses=ERRORS)
def api_nearest(request: Request, ubigeo: str, kind: str | None = None, limit: int = 5,
                session: Session = Depends(db_session)):
    """Nearest treatment services to a district capital, with straight-line distance."""
    if not ref.is_valid(ubigeo.zfill(6)):
        return _problem(422, "ubigeo", "not an INEI district code")
    return _nearest_context(session, ubigeo, kind, max(1, min(limit, 50)), _now(request))


@router.get("/servicios", response_class=HTMLResponse, include_in_schema=False)
def services_page(request: Request, ubigeo: str | None = None, kind: str | None = None,
                  session: Session = Depends(db_session)) -> HTMLResponse:
    """Find the nearest services to a district (same context as the JSON twin)."""
    ctx = _nearest_context(session, ubigeo, kind or None, 8, _now(request))
    ctx.update(_place_choices(ubigeo))
    return render(request, "public/services.html", ctx)


@router.post("/api/v1/services", tags=["public"], status_code=201)
def api_add_service(body: ServiceBody, request: Request, user: User = Depends(admin_only),
                    session: Session = Depends(db_session)):
    """Add or update a service (e.g. a community mental-health centre); admins only."""
    from centinela.audit import record

    now = _now(request)
    try:
        svc = directory.add_service(session, added_by=user.username, now=now,
                                    **body.model_dump())
    except directory.ServiceError as exc:
        session.rollback()
        return _problem(422, str(exc).split(":")[0], str(exc))
    record(session, user.username, "service.upsert", svc.service_id, now=now)
    return JSONResponse({"service_id": svc.service_id, "name": svc.name}, status_code=201)


# ---------------------------------------------------------------- analyst triage


def _scope(user: User) -> list[str] | None:
    return list(user.departments or []) if user.role == "regional_analyst" else None


def _triage_context(session: Session, user: User, status: str | None,
                    now: dt.datetime) -> dict:
    if status and status not in REPORT_STATUSES:
        raise HTTPException(status_code=422, detail=f"status must be one of {REPORT_STATUSES}")
    rows = triage(session, now, status=status, departments=_scope(user))
    return {"reports": [row_json(r) for r in rows], "status": status,
            "statuses": REPORT_STATUSES, "generated_at": now.isoformat()}


@router.get("/api/v1/analyst/reports", tags=["analyst"])
def api_triage(request: Request, status: str | None = None, user: User = Depends(analyst),
               session: Session = Depends(db_session)) -> dict:
    """Citizen reports for triage: clusters, duplicates, priority (JSON twin of the page)."""
    from centinela.audit import record

    now = _now(request)
    ctx = _triage_context(session, user, status, now)
    record(session, user.username, "citizen_report.list", status or "all",
           details={"count": len(ctx["reports"])}, now=now)
    return ctx


@router.get("/analista/reportes", response_class=HTMLResponse, include_in_schema=False)
def triage_page(request: Request, status: str | None = None, user: User = Depends(analyst),
                session: Session = Depends(db_session)) -> HTMLResponse:
    """Triage page for analysts."""
    from centinela.audit import record

    now = _now(request)
    ctx = _triage_context(session, user, status or None, now)
    record(session, user.username, "citizen_report.list", status or "all",
           details={"count": len(ctx["reports"])}, now=now)
    ctx["user"] = user
    return render(request, "public/analyst_reports.html", ctx)


class StatusBody(BaseModel):
    status: Literal[REPORT_STATUSES]  # type: ignore[valid-type]
    note: str = Field("", max_length=1000, description="Shown to the reporter.")


def _check_scope(session: Session, user: User, report_id: str) -> None:
    from centinela.public.models import CitizenReport

    report = session.scalar(select(CitizenReport).where(CitizenReport.report_id == report_id))
    if report is None:
        raise HTTPException(status_code=404, detail="report not found")
    scope = _scope(user)
    if scope is not None and report.department not in scope:
        raise HTTPException(status_code=403, detail="report outside your departments")


@router.post("/api/v1/analyst/reports/{report_id}/status", tags=["analyst"])
def api_set_status(report_id: str, body: StatusBody, request: Request,
                   user: User = Depends(analyst), session: Session = Depends(db_session)):
    """Change a report's status (audited); the reporter sees it with the code."""
    _check_scope(session, user, report_id)
    try:
        report = set_status(session, report_id, body.status, user.username, _now(request),
                            body.note)
    except TriageError as exc:
        session.rollback()
        return _problem(409, "status", str(exc))
    return {"report_id": report.report_id, "status": report.status}


@router.post("/analista/reportes/{report_id}/estado", response_class=HTMLResponse,
             include_in_schema=False)
def triage_set_status(report_id: str, request: Request, status: str = Form(...),
                      note: str = Form(""), user: User = Depends(analyst),
                      session: Session = Depends(db_session)) -> Response:
    """Change a report's status from the triage page."""
    from fastapi.responses import RedirectResponse

    _check_scope(session, user, report_id)
    try:
        set_status(session, report_id, status, user.username, _now(request), note)
    except TriageError as exc:
        session.rollback()
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return RedirectResponse("/analista/reportes", status_code=303)


@router.get("/analista/reportes/foto/{photo_id}", include_in_schema=False)
def triage_photo(photo_id: int, request: Request, user: User = Depends(analyst),
                 session: Session = Depends(db_session)) -> Response:
    """Serve a (metadata-free) report photo to an analyst; the read is audited."""
    from centinela.audit import record

    photo = session.get(ReportPhoto, photo_id)
    if photo is None:
        raise HTTPException(status_code=404)
    _check_scope(session, user, photo.report_id)
    record(session, user.username, "citizen_report.photo", photo.report_id,
           details={"photo_id": photo_id}, now=_now(request))
    return Response(photo.content, media_type=photo.media_type,
                    headers={"Cache-Control": "no-store"})
