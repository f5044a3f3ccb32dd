"""Routers of the analyst app (pages and their JSON twins), mounted by ``routes.core``."""

PAGE_MODULES = (
    "centinela.web.pages.auth",
    "centinela.web.pages.workspace",
    "centinela.web.pages.alerts",
    "centinela.web.pages.profiles",
    "centinela.web.pages.maps",
    "centinela.web.pages.imports",
    "centinela.web.pages.lookup",
    "centinela.web.pages.prescriber",
    "centinela.web.pages.delegates",
    "centinela.web.pages.access",
    "centinela.web.pages.admin",
)
