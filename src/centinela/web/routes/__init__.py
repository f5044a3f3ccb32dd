"""Routers of the web app: one module per area, each exposing ``router`` (and optionally
``setup(app)``). The app factory includes them in this order.
"""

ROUTER_MODULES = (
    "centinela.web.routes.core",  # health check, language switch
    # analyst app: pages and their JSON twins
    "centinela.web.routes.auth",
    "centinela.web.routes.alerts",
    "centinela.web.routes.profiles",
    "centinela.web.routes.maps",
    "centinela.web.routes.imports",
    "centinela.web.routes.lookup",
    "centinela.web.routes.prescriber",
    "centinela.web.routes.delegates",
    "centinela.web.routes.access",
    "centinela.web.routes.admin",
    # machine intake
    "centinela.web.routes.intake",
    # citizens and public channels
    "centinela.web.routes.public",
    "centinela.web.routes.ews",
    "centinela.web.routes.online",
    "centinela.web.routes.fhir",
    "centinela.web.routes.customs",
    "centinela.web.routes.quarterly",
)
