"""Citizen pages: the anonymous report form and follow-up, the treatment-services finder, and
their JSON API twins (the assistant, the messaging webhooks and the staff triage have their own
modules: ``assistant``, ``channels``, ``triage``).

The client address is hashed at once with a key that rotates daily and is never stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.config import get_settings
from centinela.lib.clock import utcnow
from centinela.public import directory
from centinela.public.abuse import AbuseError, check_rate, daily_client_hash, new_challenge
from centinela.public.abuse import verify_challenge as _verify
from centinela.public.assistant.engine import ask
from centinela.public.citizen_messages import (
    FIELD_LABELS,
    abuse_message,
    emergency_message,
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
from centinela.public.models import REPORT_HOWS, REPORT_KINDS
from centinela.public.photos import PhotoError
from centinela.reference import ubigeo as ref
from centinela.web.deps import TEMPLATES_DIR, db_session, lang, require_roles
from centinela.web.deps import render as _render
from centinela.web.views.public import (
    CENTRAL_DENUNCIAS,
    place_choices,
    places,
    report_form_context,
    services_context,
)


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
admin_only = require_roles("admin")



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
    ul = lang(request)
    if first.get("type") == "json_invalid":
        return _problem(422, "body", _invalid_json(first, body, ul))
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in (
            "model_attributes_type", "dict_type", "missing"):
        return _problem(422, "body", "The request body must be one JSON object." if ul == "en"
                        else "El cuerpo de la solicitud debe ser un objeto JSON.")
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    top = loc[0] if loc else "body"
    if top in FIELD_LABELS:
        message = field_message(top, "", ul)
    else:
        message = ("Revise este dato: " if ul == "es" else "Check this value: ") + field
    text = body.get("text") if isinstance(body, dict) else None
    emergency = _emergency(text, ui_lang(ul)) if isinstance(text, str) else None
    return _problem(422, field, message, emergency=emergency)


def _invalid_json(error: dict, body, ul: str) -> str:
    """Where a request body stops being JSON, in the person's language (line and column)."""
    loc = error.get("loc") or ()
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    reason = str((error.get("ctx") or {}).get("error") or "")
    where_es = where_en = ""
    if pos is not None:
        doc = body if isinstance(body, str) else ""
        line = doc.count("\n", 0, pos) + 1
        col = pos - (doc.rfind("\n", 0, pos) + 1) + 1
        where_es, where_en = f" en la línea {line}, columna {col}", f" at line {line}, column {col}"
    detail = f" ({reason})" if reason else ""
    if ul == "en":
        return (f"Invalid JSON{where_en}{detail}: the request body must be one JSON object; "
                "check quotes, commas and braces.")
    return (f"JSON inválido{where_es}{detail}: el cuerpo de la solicitud debe ser un objeto JSON; "
            "revise comillas, comas y llaves.")


def setup(app) -> None:
    """Shape the public API's input errors like its other errors."""
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


@router.get("/api/v1/places", tags=["public"])
def api_places(department: str | None = None, province: str | None = None) -> dict:
    """Departments, a department's provinces, or a province's districts (INEI codes)."""
    return {"places": places(department, province)}


@router.get("/reportar/lugares", response_class=HTMLResponse, include_in_schema=False)
def places_options(request: Request, department: str | None = None,
                   province: str | None = None) -> HTMLResponse:
    """Return <option> elements for the htmx cascade."""
    level = "district" if province else "province"
    return render(request, "public/_options.html",
                  {"places": places(department, province), "level": level})


# ---------------------------------------------------------------- report form


def _emergency(text: str, ui: str) -> str | None:
    """The emergency answer when a report or message describes one (shown before anything)."""
    return emergency_message(text, ui)


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
    resp = render(request, "public/report_form.html", report_form_context(_now(request)))
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
                      report_form_context(now, values=values, error=message,
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
    answer: str = Field(description="The sum, as text or as a number (12 or \"12\").")

    @field_validator("answer", mode="before")
    @classmethod
    def _number_as_text(cls, value):
        # {"answer": 12} is what a client sends for "7 + 5"; booleans are not numbers here.
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value


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


@router.get("/api/v1/services/nearest", tags=["public"], responses=ERRORS)
def api_nearest(request: Request, ubigeo: str, kind: str | None = None, limit: int = 5,
                session: Session = Depends(db_session)):
    """Nearest treatment services to a district capital, with straight-line distance."""
    if not ref.is_valid(ubigeo.zfill(6)):
        return _problem(422, "ubigeo", "not an INEI district code")
    return services_context(session, ubigeo, kind, max(1, min(limit, 50)), _now(request))


@router.get("/servicios", response_class=HTMLResponse, include_in_schema=False)
def services_page(request: Request, ubigeo: str | None = None, kind: str | None = None,
                  session: Session = Depends(db_session)) -> HTMLResponse:
    """Find the nearest services to a district (same context as the JSON twin)."""
    ctx = services_context(session, ubigeo, kind or None, 8, _now(request))
    ctx.update(place_choices(ubigeo))
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
