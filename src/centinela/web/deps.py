"""FastAPI dependencies shared by every router: DB session, language, current user, roles.

Other routers use ``db_session``, ``lang``, ``current_user``, ``require_roles``, ``render`` and
``clock``. Forms must include ``{{ csrf_field() }}`` (or htmx's ``X-CSRF-Token`` header, which
``base.html`` sets on ``<body>``): the security middleware refuses unsafe requests without it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import nav_for
from centinela.web.codes import actor, code, detail, detail_key, label, sentence, subject
from centinela.web.fmt import register as register_formats
from centinela.web.i18n import detector_label, pick_lang, plural, translate
from centinela.web.leadrule import rule_text
from centinela.web.security import CSRF_FIELD, csrf_token
from centinela.web.txn import remember

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def safe_url(value: object) -> str:
    """Return ``value`` if it is an absolute http(s) URL, else "" (no ``javascript:``, ``data:``).

    Browsers ignore tabs, newlines and leading spaces in a scheme (``java\tscript:``), so the
    check runs on the URL with those removed, and such a URL is refused outright.
    """
    text = str(value or "")
    squeezed = "".join(ch for ch in text if ch > " " and ch != "\x7f")
    if squeezed != text.strip() or len(text) > 2000:
        return ""
    return text.strip() if squeezed.lower().startswith(("http://", "https://")) else ""


templates.env.filters["safe_url"] = safe_url
register_formats(templates.env)  # num, dec, qty, mg, pct, date, datetime


@pass_context
def _code_filter(ctx, value):
    """``{{ value|code }}``: a stored code, or the codes inside a stored text, in the page's
    language (``general_medicine`` → "medicina general")."""
    return code(value, ctx.get("lang") or "es") if value not in (None, "") else ""


templates.env.filters["code"] = _code_filter


@pass_context
def _detail_filter(ctx, value, key: str = ""):
    """``{{ value|detail(key) }}``: one value of an audit entry's details in the page's language
    (``"role": "police"`` → "Policía"); see :func:`centinela.web.codes.detail`."""
    return detail(key, value, ctx.get("lang") or "es")


templates.env.filters["detail"] = _detail_filter


@pass_context
def _label_filter(ctx: Context, value: object, prefix: str) -> str:
    """``{{ value|label('online.context.') }}``: the catalogue label ``prefix + value``, or the
    code in words when a newer code has none yet (see :func:`centinela.web.codes.label`)."""
    return label(prefix, value, ctx.get("lang") or "es") if value not in (None, "") else ""


@pass_context
def _audit_filter(ctx: Context, value: object, part: str, action: str = "") -> str:
    """``{{ e.subject|audit('subject', e.action) }}``: one part of an audit entry in the page's
    language — ``key`` (of its details), ``subject`` or ``actor`` (its reason: ``sentence``)."""
    lng, text = ctx.get("lang") or "es", str(value)
    if part == "key":
        return detail_key(text, lng)
    return subject(action, text, lng) if part == "subject" else actor(text, lng)


@pass_context
def _sentence_filter(ctx: Context, value: object) -> str:
    """``{{ c.disabled_reason|sentence }}``: an English sentence the code stores, in the page's
    language; free text as written (see :func:`centinela.web.codes.sentence`)."""
    return sentence(str(value or ""), ctx.get("lang") or "es")


@pass_context
def _rule_filter(ctx: Context, value: object) -> str | None:
    """``{{ rule|rule }}``: the online classifier's reason in the page's language, or None for a
    shape the catalogue does not know yet (see :mod:`centinela.web.leadrule`)."""
    return rule_text(str(value or ""), ctx.get("lang") or "es")


templates.env.filters.update({"label": _label_filter, "audit": _audit_filter,
                              "sentence": _sentence_filter, "rule": _rule_filter})


@pass_context
def _substance_filter(ctx, value):
    """``{{ ids|substance }}``: EWS registry ids named in the page's language (``methadone`` →
    "metadona" on a Spanish page); an id the registry lacks is shown as it is."""
    from centinela.ews.registry import registry

    ids = value if isinstance(value, list | tuple) else [value]
    known, lang = registry().by_key_id, ctx.get("lang") or "es"
    return ", ".join(known[str(i)].display_name(lang) if str(i) in known else str(i)
                     for i in ids if i not in (None, ""))


templates.env.filters["substance"] = _substance_filter


def db_session(request: Request) -> Iterator[Session]:
    """Yield a session bound to the app's engine; commit on success (before the response is
    sent, see :mod:`centinela.web.txn`), roll back on error."""
    session = request.app.state.session_factory()
    remember(request.scope.setdefault("state", {}), session)  # committed before the response
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def lang(request: Request) -> str:
    """Return the interface language of this request (Spanish first)."""
    return pick_lang(
        request.query_params.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("accept-language"),
    )


def clock(request: Request) -> dt.datetime:
    """Return 'now' (naive UTC) from the app's clock; tests freeze ``app.state.clock``."""
    fn = getattr(request.app.state, "clock", None)
    return fn() if fn else dt.datetime.now(dt.UTC).replace(tzinfo=None)


def current_user(request: Request, session: Session = Depends(db_session)) -> User | None:
    """Return the signed-in user (session cookie or API token), or None."""
    resolver = getattr(request.app.state, "user_resolver", None)
    if resolver is None:
        return None
    return resolver(request, session)


def require_roles(*roles: str):
    """Dependency factory: 401 when signed out, 403 when the role is not in ``roles``."""

    def _dep(user: User | None = Depends(current_user)) -> User:
        if user is None:
            raise HTTPException(status_code=401, detail="authentication required")
        if roles and user.role not in roles:
            raise HTTPException(status_code=403, detail="forbidden for this role")
        return user

    return _dep


def _menu_user(request: Request) -> User | None:
    """Return the user for the menu, resolving it when the route did not ask for one."""
    if getattr(request.state, "user_resolved", False):
        return request.state.user
    resolver = getattr(request.app.state, "user_resolver", None)
    if resolver is None:
        return None
    session = request.app.state.session_factory()
    try:
        return resolver(request, session)
    except HTTPException:
        return None
    finally:
        session.close()


def render(request: Request, name: str, context: dict, status_code: int = 200):
    """Render a template with the language, translator, user, menu and CSRF token; a client
    that asks for ``application/json`` gets the page's JSON twin (:mod:`centinela.web.twin`)."""
    from centinela.web.twin import twin_response, wants_json

    if wants_json(request):
        return twin_response(context, status_code)
    lng = lang(request)
    token = csrf_token(request)
    user = _menu_user(request)
    ctx = {
        "request": request, "lang": lng, "t": lambda k, **p: translate(k, lng, **p),
        "tn": lambda k, n, **p: plural(k, n, lng, **p),  # key.one / key.other by the count n
        "detector": lambda code: detector_label(code, lng),
        "user": user, "nav": nav_for(user), "csrf_token": token,
        "csrf_field": lambda: Markup(
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">'),
    }
    ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
