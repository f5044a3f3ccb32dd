"""The JSON twin of every page: ``Accept: application/json`` on a page URL returns the data the
page was rendered from (the context given to ``render``), as JSON.

Only plain data travels: pydantic view models, dataclasses, dicts, lists, strings, numbers,
dates. Anything else (ORM rows, callables, pre-rendered SVG/HTML markup) is left out, so a twin
never shows more than the page's own view model (no password hashes of an ORM ``User``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math

from fastapi import Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from pydantic import BaseModel

SKIP = object()
HIDDEN_KEYS = frozenset({"request", "csrf_token", "csrf_field", "t", "user", "nav"})


def wants_json(request: Request) -> bool:
    """Return True when the client prefers JSON to HTML (``Accept: application/json`` first)."""
    if request.method not in ("GET", "HEAD") or request.headers.get("hx-request"):
        return False
    accept = request.headers.get("accept", "").lower()
    if "application/json" not in accept:
        return False
    html = accept.find("text/html")
    return html < 0 or accept.find("application/json") < html


def plain(value, depth: int = 0):
    """Return ``value`` as JSON-ready data, or ``SKIP`` for what a twin must not carry."""
    if depth > 30:
        return SKIP
    if value is None or isinstance(value, bool | int | str):
        return str(value) if isinstance(value, Markup) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value, depth + 1)
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)},
                     depth + 1)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str | int) or str(k) in HIDDEN_KEYS:
                continue
            p = plain(v, depth + 1)
            if p is not SKIP:
                out[str(k)] = p
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v, depth + 1) for v in value]
        return [v for v in items if v is not SKIP]
    return SKIP


def twin_response(context: dict, status_code: int = 200) -> JSONResponse:
    """Return the JSON twin of a page rendered from ``context``."""
    data = plain({k: v for k, v in context.items()
                  if not (isinstance(v, Markup) or callable(v)) and not str(k).startswith("_")})
    return JSONResponse(data, status_code=status_code, headers={"Vary": "Accept"})
