"""Routers of the web app; each area owns one module exposing ``router``.

Add a module name here to mount it; the app factory includes them in this order.
"""

ROUTER_MODULES = (
    "centinela.web.routes.core",
    "centinela.web.routes.intake",
    "centinela.web.routes.public",
    "centinela.web.routes.ews",
    "centinela.web.routes.online",
    "centinela.web.routes.fhir",
    "centinela.web.routes.customs",
    "centinela.web.routes.quarterly",
)
