"""Routers of the analyst app (pages and their JSON twins), mounted by ``routes.core``."""

PAGE_MODULES = (
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
)
