"""FHIR R4 intake endpoint: a Bundle (or NDJSON) in, an OperationOutcome out.

The same service as ``centinela fhir import`` (``ingest.fhir.import_fhir``), which runs the one
intake path: validation, quarantine with reasons, idempotency and pseudonyms.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from centinela.accounts.models import User
from centinela.accounts.policy import INTAKE_ROLES
from centinela.db import session_scope
from centinela.ingest.fhir import FhirError, import_fhir, operation_outcome
from centinela.ingest.service import ImportFailed
from centinela.ledger.records import Rejection
from centinela.web.deps import clock, require_roles

router = APIRouter(prefix="/api/v1", tags=["intake"])
guard = require_roles(*INTAKE_ROLES)
MAX_BODY = 64 << 20
FHIR_JSON = "application/fhir+json"


def _outcome(status: int, severity: str, code: str, text: str) -> JSONResponse:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text[:500]}]}
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


@router.post("/fhir", openapi_extra={"requestBody": {"required": True, "content": {
    FHIR_JSON: {"schema": {"type": "object"}},
    "application/json": {"schema": {"type": "object"}},
    "application/fhir+ndjson": {"schema": {"type": "string"}},
}}}, summary="Import a FHIR Bundle or NDJSON of medication resources")
async def post_fhir(request: Request, user: User = Depends(guard)) -> JSONResponse:
    """Import MedicationDispense, MedicationAdministration and the resources they cite.

    Answers an OperationOutcome: one issue per rejected resource (with ``Bundle.entry[i]``),
    then the totals; 400 when the body is not FHIR at all.
    """
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY:
        return _outcome(413, "error", "too-costly", f"body over {MAX_BODY >> 20} MB")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _outcome(413, "error", "too-costly", f"body over {MAX_BODY >> 20} MB")
    engine = request.app.state.engine
    try:
        report = import_fhir(engine, [("bundle", body)], channel="fhir",
                             submitted_by=user.username, now=clock(request))
    except (FhirError, UnicodeDecodeError) as exc:
        return _outcome(400, "error", "structure", f"not a FHIR Bundle or NDJSON: {exc}"[:300])
    except ImportFailed as exc:
        return _outcome(500, "fatal", "exception", f"import rolled back: {exc.report.error}")
    with session_scope(engine) as session:
        rows = session.scalars(select(Rejection).where(Rejection.import_id == report.import_id)
                               .order_by(Rejection.id).limit(1001))
        rej = [{"source": r.source, "line": r.line, "kind": r.kind, "reason": r.reason}
               for r in rows]
    return JSONResponse(operation_outcome(report, rej), media_type=FHIR_JSON)
