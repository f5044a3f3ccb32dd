"""The API reference at ``/api/docs``: server-rendered from the app's OpenAPI schema, so it works
on a network without Internet (no Swagger UI from a CDN); the schema stays at
``/api/openapi.json``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from centinela.web.deps import render
from centinela.web.views.apidocs import build_reference

router = APIRouter()


@router.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs(request: Request) -> Response:
    """Render the API reference: every operation with its parameters, body and responses, and
    every schema with its fields (the JSON twin is the same reference as data)."""
    return render(request, "apidocs.html", {"ctx": build_reference(request.app.openapi())})
