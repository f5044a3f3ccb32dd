"""The ``centinela`` command line: one entry point, one module per area of commands.

Each module in ``COMMAND_MODULES`` exposes ``register(app)`` and adds its commands or sub-apps.
The spec's contract lives in ``importing`` (import), ``detecting`` (detect, alerts).
"""

from __future__ import annotations

import importlib

import typer

from centinela.wiring import install

COMMAND_MODULES = (
    "centinela.cli.importing",
    "centinela.cli.generating",
    "centinela.cli.detecting",
    "centinela.cli.serving",
    "centinela.cli.ews",
    "centinela.cli.online",
    "centinela.cli.public",
    "centinela.cli.demo",
    "centinela.cli.dbcmd",
    "centinela.cli.fhir",
    "centinela.cli.geo",
    "centinela.cli.auditcmd",
    "centinela.cli.outbox",
    "centinela.cli.customs",
    "centinela.cli.certification",
    "centinela.cli.quarterly",
)

app = typer.Typer(
    name="centinela",
    help="Centinela: vigilancia nacional de fentanilo / national fentanyl surveillance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

install()  # upper layers register into ingest and the detector registry
for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Run the command line."""
    app()
