"""Regressions found by walking the demo as a new user (each failed before its fix)."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.ingest.models import Seizure
from tests.web_support import *  # noqa: F403
from tests.web_support import login

HTML = {"accept": "text/html"}


def test_a_seized_serial_never_recorded_in_movements_has_a_profile(app, world, session, now):
    # The alert list links every serial subject to its profile; a seizure_trace alert about a
    # serial absent from the movements used to lead to a 404 (dead link).
    when = now - dt.timedelta(days=3)
    session.add(Seizure(seizure_id="INC-X-1", occurred_at=when, ubigeo="150101",
                        agency="PNP-DIRANDRO", serial="SN-GHOST-1", lot="L-GHOST",
                        content_hash="x" * 32))
    upsert_alert(session, AlertDraft("seizure_trace", "serial", "SN-GHOST-1", "medium", 42.0,
                                     when, when, "Serie incautada sin movimientos.",
                                     {"seizure_id": "INC-X-1"}, department="15"), now=now)
    session.commit()
    r = login(app, "analista").get("/profiles/serial/SN-GHOST-1", headers=HTML)
    assert r.status_code == 200
    assert "INC-X-1" in r.text and "Serie incautada sin movimientos." in r.text
    assert "Movimientos registrados" in r.text
    assert login(app, "lima").get("/profiles/serial/SN-GHOST-1", headers=HTML).status_code == 200
    # Outside the region's reach it stays hidden, and unknown serials are still 404.
    assert login(app, "piura").get("/profiles/serial/SN-GHOST-1", headers=HTML).status_code == 404
    assert login(app, "analista").get("/profiles/serial/NOPE-1").status_code == 404


def test_a_refused_lookup_keeps_the_reason_note_and_attestation(app, world):
    client = login(app, "farmacia")
    r = client.post("/lookup", data={"document_type": "DNI", "document_number": "1234",
                                     "reason": "emergency_care", "note": "paciente en urgencias",
                                     "attest": "on"}, headers=HTML)
    assert r.status_code == 422
    assert 'value="emergency_care" selected' in r.text
    assert 'value="paciente en urgencias"' in r.text
    assert 'name="attest" required checked' in r.text
    assert "1234" not in r.text  # the document number is still never echoed back
