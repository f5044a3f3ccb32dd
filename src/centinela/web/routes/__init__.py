"""Routers of the web app: one module per area, each exposing ``router`` (and optionally
``setup(app)``). The app factory includes them in this order.
"""

ROUTER_MODULES = (
    "centinela.web.routes.core",  # health check, language switch
    # analyst app: pages and their JSON twins
    "centinela.web.routes.auth",
    "centinela.web.routes.workspace",
    "centinela.web.routes.alerts",
    "centinela.web.routes.profiles",
    "centinela.web.routes.maps",
    "centinela.web.routes.imports",
    "centinela.web.routes.lookup",
    "centinela.web.routes.prescriber",
    "centinela.web.routes.delegates",
    "centinela.web.routes.access",
    "centinela.web.routes.admin",
    "centinela.web.routes.intake",  # machine intake of the reporting format
    # citizens: pages and API, messaging webhooks, the assistant; then the staff's triage
    "centinela.web.routes.public",
    "centinela.web.routes.channels",
    "centinela.web.routes.assistant",
    "centinela.web.routes.triage",
    # other areas
    "centinela.web.routes.ews",
    "centinela.web.routes.online",
    "centinela.web.routes.fhir",
    "centinela.web.routes.customs",
    "centinela.web.routes.quarterly",
)
