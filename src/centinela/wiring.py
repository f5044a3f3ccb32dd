"""Fill the lower layers' hook lists with the upper layers' built-ins, once, at start.

Lower packages never import upper ones: ingest does not know detection or the early-warning
system, and the detector registry does not know the EWS. The command line, the web app and the
scheduled jobs call ``install()`` when they start; built-ins register exactly as a new area
would.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    """Register the built-in intake files, after-import rules and EWS detectors (idempotent)."""
    global _installed
    if _installed:
        return
    from centinela.certification.intake import import_certificates_file
    from centinela.customs.intake import import_parcels_file
    from centinela.detect import registry as detectors
    from centinela.detect.realtime import after_import
    from centinela.ews import detectors as ews_detectors
    from centinela.ews.intake import import_overdoses_file
    from centinela.ingest import hooks
    from centinela.ingest.balances import import_balances_file
    from centinela.ingest.forms import import_forms_file

    # Extra files, read in this order after the spec's five (docs/intake.md).
    hooks.register_extra_file("overdoses", import_overdoses_file)
    hooks.register_extra_file("balances", import_balances_file)
    hooks.register_extra_file("prescription_forms", import_forms_file)
    hooks.register_extra_file("parcels", import_parcels_file)
    hooks.register_extra_file("certificates", import_certificates_file)
    hooks.register_after_import(after_import)
    for name, cls in ews_detectors.DETECTORS.items():
        detectors.register(name, cls)
    _installed = True
