"""Routers of the web app: one module per area, each exposing ``router`` (and optionally
``setup(app)``). The app factory (``centinela.web.app``) includes them in this order.
"""

from types import ModuleType

from centinela.web.routes import (
    access,
    admin,
    alerts,
    apidocs,
    assistant,
    auth,
    channels,
    core,
    customs,
    delegates,
    ews,
    fhir,
    imports,
    intake,
    lookup,
    maps,
    online,
    prescriber,
    profiles,
    public,
    quarterly,
    triage,
    workspace,
)

ROUTERS: tuple[ModuleType, ...] = (
    core,  # health check, language switch
    apidocs,  # the API reference (/api/docs), rendered here: no CDN
    # analyst app: pages and their JSON twins
    auth,
    workspace,
    alerts,
    profiles,
    maps,
    imports,
    lookup,
    prescriber,
    delegates,
    access,
    admin,
    intake,  # machine intake of the reporting format
    # citizens: pages and API, messaging webhooks, the assistant; then the staff's triage
    public,
    channels,
    assistant,
    triage,
    # other areas
    ews,
    online,
    fhir,
    customs,
    quarterly,
)
