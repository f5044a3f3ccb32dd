"""All outbound HTTP goes through this module (timeouts, user agent, one seam for tests)."""

from __future__ import annotations

import httpx

from centinela import __version__
from centinela.config import get_settings

USER_AGENT = f"Centinela/{__version__} (+https://centinela.gob.pe)"


def client(timeout: float | None = None) -> httpx.Client:
    """Return an HTTP client with Centinela's timeout and user agent (use as a context manager)."""
    return httpx.Client(
        timeout=timeout or get_settings().http_timeout_s,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )


def get(url: str, **kwargs) -> httpx.Response:
    """GET ``url`` with Centinela's defaults."""
    with client() as c:
        return c.get(url, **kwargs)


def post(url: str, **kwargs) -> httpx.Response:
    """POST to ``url`` with Centinela's defaults."""
    with client() as c:
        return c.post(url, **kwargs)
