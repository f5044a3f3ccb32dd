"""Health check and language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter()


@router.get("/healthz", tags=["core"])
def healthz() -> dict:
    """Return ok when the app is up."""
    return {"status": "ok"}


@router.get("/lang/{code}", include_in_schema=False)
def set_lang(code: str, request: Request) -> RedirectResponse:
    """Set the interface language cookie and go back (same site only)."""
    from urllib.parse import urlsplit

    ref = urlsplit(request.headers.get("referer") or "/")
    target = ref.path if ref.path.startswith("/") and not ref.path.startswith("//") else "/"
    if ref.query:
        target += "?" + ref.query
    resp = RedirectResponse(target, status_code=303)
    if code in ("es", "en"):
        resp.set_cookie("lang", code, max_age=365 * 86400, samesite="lax")
    return resp

