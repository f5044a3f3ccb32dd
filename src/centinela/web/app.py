"""The FastAPI application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from centinela import __version__
from centinela.config import get_settings
from centinela.db import get_engine, session_factory
from centinela.web import report_words
from centinela.web.deps import lang
from centinela.web.i18n import current_lang
from centinela.web.limits import BodyLimit
from centinela.web.routes import ROUTERS
from centinela.web.security import SecurityMiddleware, resolve_user
from centinela.web.txn import CommitBeforeResponse
from centinela.wiring import install

STATIC_DIR = Path(__file__).parent / "static"


def wants_html(request: Request) -> bool:
    """Return True for browser page requests (not the JSON API)."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


class LanguageContext:
    """Pure ASGI middleware: set ``i18n.current_lang`` to the request's interface language for
    the time the request is served (sync views run in a thread that copies the context)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = current_lang.set(lang(Request(scope)))
        try:
            await self.app(scope, receive, send)
        finally:
            current_lang.reset(token)


def create_app(engine: Engine | None = None) -> FastAPI:
    """Build the app bound to ``engine`` (default: the configured database)."""
    install()
    report_words.register()  # the quarterly report speaks with the app's words
    # The API reference at /api/docs is a page of ours (routes/apidocs.py): Swagger UI would
    # load from a CDN, a blank page on a network without Internet.
    app = FastAPI(title="Centinela", version=__version__, docs_url=None,
                  openapi_url="/api/openapi.json", redoc_url=None)
    app.state.engine = engine or get_engine()
    app.state.session_factory = session_factory(app.state.engine)
    app.state.user_resolver = resolve_user
    app.state.csrf_exempt = set()  # path prefixes of cookie-less form webhooks
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for module in ROUTERS:
        app.include_router(module.router)
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app)
    @app.get("/docs", include_in_schema=False)
    def _docs_redirect():
        # The API documentation lives at /api/docs (OpenAPI at /api/openapi.json).
        return RedirectResponse("/api/docs", status_code=307)

    app.add_middleware(CommitBeforeResponse)
    app.add_middleware(LanguageContext)  # the request's language, for lists deep in the views
    app.add_middleware(SecurityMiddleware, exempt=app.state.csrf_exempt,
                       https_only=get_settings().environment == "production")
    app.add_middleware(BodyLimit)  # outermost: a huge body is refused before anyone reads it

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        shaper = getattr(request.app.state, "validation_error_shape", None)
        shaped = shaper(request, exc) if shaper is not None else None
        if shaped is not None:  # e.g. the public API's {"error": {"field", "message"}}
            return shaped
        # Say where and why, never echo the values (a document number may be among them).
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(DataError)
    async def _bad_value(request: Request, exc: DataError):
        # e.g. a NUL byte PostgreSQL cannot store or compare: the input is at fault, not us.
        return JSONResponse({"detail": "invalid characters or value out of range in the input"},
                            status_code=400)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError):
        # SQLite has one writer: while a long import holds it (a national file takes a
        # minute), a sign-in or an audited read waits out the busy timeout and fails. Say so
        # and when to come back, instead of a 500. Any other operational error is ours.
        if "database is locked" not in str(exc.orig):
            raise exc
        headers = {"Retry-After": "15"}
        if not wants_html(request):
            return JSONResponse({"detail": "busy: an import is writing to the database; retry "
                                           "in a few seconds"}, status_code=503, headers=headers)
        from centinela.web.deps import render

        resp = render(request, "error.html", {"status": 503, "detail": "busy"}, status_code=503)
        resp.headers.update(headers)
        return resp

    @app.exception_handler(OverflowError)
    async def _too_big(request: Request, exc: OverflowError):
        # An id or offset beyond the database's integers (SQLite raises this before the query).
        return JSONResponse({"detail": "a number in the request is out of range"},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if not wants_html(request):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            return RedirectResponse("/login?next=" + quote(target, safe="/"), status_code=303)
        from centinela.web.deps import render

        return render(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                      status_code=exc.status_code)

    return app
