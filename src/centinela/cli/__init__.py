"""The ``centinela`` command line: one entry point, one module per area of commands.

Every module declares module-level Typer apps: ``app`` holds its top-level commands (merged
into the root here) or, for an area with a command group, the group itself; modules with more
than one group name the others (``detecting.authorities``, ``serving.users``…). This file only
composes them. The spec's contract lives in ``importing`` (import), ``detecting`` (detect, alerts).
"""

from __future__ import annotations

import typer

from centinela.cli import (
    auditcmd,
    certification,
    customs,
    dbcmd,
    demo,
    detecting,
    ews,
    fhir,
    generating,
    geo,
    importing,
    online,
    outbox,
    public,
    quarterly,
    serving,
)
from centinela.wiring import install

app = typer.Typer(
    name="centinela",
    help="Centinela: vigilancia nacional de fentanilo / national fentanyl surveillance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

install()  # upper layers register into ingest and the detector registry

# Top-level commands, in the order ``centinela --help`` lists them.
for _commands in (importing.app, generating.app, detecting.app, serving.app, demo.app,
                  dbcmd.app, quarterly.app):
    app.add_typer(_commands)

# Command groups.
GROUPS: tuple[tuple[str, typer.Typer], ...] = (
    ("authorities", detecting.authorities),
    ("users", serving.users),
    ("tokens", serving.tokens),
    ("ews", ews.app),
    ("online", online.app),
    ("report", public.report),
    ("assistant", public.assistant),
    ("services", public.services),
    ("db", dbcmd.db),
    ("fhir", fhir.app),
    ("geo", geo.app),
    ("audit", auditcmd.app),
    ("outbox", outbox.app),
    ("customs", customs.app),
    ("certification", certification.app),
)
for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)


def main() -> None:
    """Run the command line."""
    app()
