"""FHIR R4 intake: round trip with the ledger, malformed input, the endpoint, privacy."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from centinela.db import create_schema, make_engine, session_scope
from centinela.ingest import fhir as F
from centinela.ingest.fhir_export import as_bundle, export_resources, write_ndjson
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement, Rejection
from centinela.registry.models import Establishment, Product, Professional
from tests.ingest_support import write_registry

generate = pytest.importorskip("centinela.generate").generate

MOVE_COLS = ("event_id", "event_type", "occurred_at", "establishment_id", "product_code",
             "quantity", "lot", "expiry", "serial", "prescription_id", "prescriber_id",
             "professional_id", "patient_id", "patient_sex", "patient_birth_year",
             "patient_ubigeo", "days_supply", "content_hash")


def _ledger(engine) -> dict:
    with session_scope(engine) as s:
        moves = {tuple(getattr(m, c) for c in MOVE_COLS) for m in s.scalars(
            select(Movement).where(Movement.event_type.in_(("dispense", "administer"))))}
        ests = {e.establishment_id: (e.name, e.kind, e.sector, e.ubigeo, e.ruc,
                                     e.authorized_controlled, e.authorization_expires)
                for e in s.scalars(select(Establishment))}
        pros = {p.professional_id: (p.role, p.full_name, p.specialty, p.establishment_id,
                                    p.ubigeo, p.opioid_certified_on, p.certificate_id)
                for p in s.scalars(select(Professional))}
        prods = {p.product_code: (p.name, p.substance, p.dosage_form, p.strength_mg_per_unit,
                                  p.patch_mcg_per_hour, p.units_per_pack)
                 for p in s.scalars(select(Product))}
    return {"moves": moves, "ests": ests, "pros": pros, "prods": prods}


@pytest.mark.parametrize("as_json_bundle", [False, True])
def test_a_national_sample_exported_to_fhir_and_back_gives_the_same_ledger(
        engine, data_dir, tmp_path, as_json_bundle):
    generate(data_dir, seed=11, scale=0.01)
    import_directory(engine, data_dir, realtime=False)
    with session_scope(engine) as s:
        resources = list(export_resources(s))
    if as_json_bundle:
        payload = json.dumps(as_bundle(iter(resources))).encode()
    else:
        out = tmp_path / "x.ndjson"
        with out.open("w") as fh:
            write_ndjson(iter(resources), fh)
        payload = out.read_bytes()
    other = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    create_schema(other)
    report = F.import_fhir(other, [("sample", payload)])
    assert report.total("rejected") == 0 and report.total("conflicts") == 0, report.as_text()
    a, b = _ledger(engine), _ledger(other)
    assert len(a["moves"]) > 1_000 and a["moves"] == b["moves"]
    cited = {m[3] for m in a["moves"]}
    assert {k: v for k, v in a["ests"].items() if k in cited} == b["ests"]
    assert set(b["pros"]) and all(a["pros"][k] == v for k, v in b["pros"].items())
    assert all(a["prods"][k] == v for k, v in b["prods"].items())
    # Re-sending the same export is a no-op.
    again = F.import_fhir(other, [("sample", payload)])
    assert again.total("accepted") == 0 and again.total("duplicates") == report.total("accepted")
    other.dispose()


def _bundle(*resources: dict) -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": "collection",
                       "entry": [{"resource": r} for r in resources]}).encode()


def _dispense(**over) -> dict:
    base = {
        "resourceType": "MedicationDispense", "id": "d1", "status": "completed",
        "identifier": [{"system": F.EVENT, "value": "FH-1"}],
        "medicationCodeableConcept": {"coding": [{"system": F.PRODUCT, "code": "EE-00002"}]},
        "subject": {"identifier": {"system": "urn:pe:dni", "value": "45678912"}},
        "performer": [{"actor": {"identifier": {"system": F.EST, "value": "EST-FAR"}}},
                      {"actor": {"identifier": {"system": F.PRO, "value": "CQFP-01234"}}}],
        "authorizingPrescription": [{"reference": "MedicationRequest/r1"}],
        "quantity": {"value": 5}, "daysSupply": {"value": 15},
        "whenHandedOver": "2025-03-14T09:30:00-05:00",
    }
    base.update(over)
    return base


REQUEST = {"resourceType": "MedicationRequest", "id": "r1", "status": "completed",
           "intent": "order", "identifier": [{"system": F.FORM, "value": "RE-000123"}],
           "medicationCodeableConcept": {"coding": [{"system": F.PRODUCT, "code": "EE-00002"}]},
           "subject": {"identifier": {"system": "urn:pe:dni", "value": "45678912"}},
           "requester": {"identifier": {"system": F.PRO, "value": "CMP-012345"}}}


def test_a_dispense_becomes_a_movement_with_a_pseudonym_and_its_prescription(engine, session,
                                                                              data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir, realtime=False)
    report = F.import_fhir(engine, [("b.json", _bundle(_dispense(), REQUEST))])
    assert report.total("accepted") == 1, report.as_text()
    m = session.scalars(select(Movement)).one()
    assert (m.event_type, m.establishment_id, m.product_code, m.quantity) == \
        ("dispense", "EST-FAR", "EE-00002", 5.0)
    assert (m.prescription_id, m.prescriber_id, m.professional_id, m.days_supply) == \
        ("RE-000123", "CMP-012345", "CQFP-01234", 15)
    assert m.patient_id.startswith("PSN:") and "45678912" not in m.patient_id
    stored = json.dumps([r.record for r in session.scalars(select(Rejection))])
    assert "45678912" not in stored


def test_malformed_resources_are_rejected_one_by_one_with_their_entry(engine, session, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir, realtime=False)
    bad_type = _dispense(id="d2", identifier=[{"system": F.EVENT, "value": "FH-2"}],
                         quantity={"value": "five"})
    cancelled = _dispense(id="d3", identifier=[{"system": F.EVENT, "value": "FH-3"}],
                          status="cancelled")
    unknown_est = _dispense(id="d4", identifier=[{"system": F.EVENT, "value": "FH-4"}],
                            performer=[{"actor": {"identifier": {"system": F.EST,
                                                                 "value": "EST-NOPE"}}}])
    observation = {"resourceType": "Observation", "id": "o1", "status": "final",
                   "code": {"text": "x"}}
    payload = _bundle(_dispense(), REQUEST, bad_type, cancelled, unknown_est, observation,
                      {"resourceType": "MedicationDispense", "status": "completed"})
    report = F.import_fhir(engine, [("b.json", payload)])
    assert report.total("accepted") == 1
    rej = {r.line: r for r in session.scalars(select(Rejection))}
    assert set(rej) == {3, 4, 5, 6, 7}
    assert "invalid FHIR" in rej[3].reason and "Bundle.entry[2]" in rej[3].reason
    # Spanish first, then the library's English: a quantity of "five" breaks FHIR's format.
    assert "FHIR no válido en quantity.value: valor que no cumple el formato" in rej[3].reason
    assert "cancelled" in rej[4].reason
    assert "unknown establishment" in rej[5].reason
    assert "Observation" in rej[6].reason
    outcome = F.operation_outcome(report, [{"source": r.source, "line": r.line, "kind": r.kind,
                                            "reason": r.reason} for r in rej.values()])
    assert outcome["resourceType"] == "OperationOutcome"
    assert [i["expression"] for i in outcome["issue"][:5]] == [
        [f"Bundle.entry[{n - 1}]"] for n in sorted(rej)]


@pytest.mark.parametrize("payload", [b"", b"not json at all", b"[1, 2]",
                                     b'{"resourceType": "Bundle", "entry": 5}'])
def test_input_that_is_not_fhir_at_all_is_refused_whole(engine, payload):
    with pytest.raises(F.FhirError):
        F.import_fhir(engine, [("x", payload)])


def test_an_administration_dose_in_mg_becomes_units_of_the_product(engine, session, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir, realtime=False)
    med = {"resourceType": "Medication", "id": "m1",
           "code": {"coding": [{"system": F.PRODUCT, "code": "EE-00001"}]},
           "ingredient": [{"itemCodeableConcept": {"text": "fentanyl"},
                           "strength": {"numerator": {"value": 0.1, "code": "mg"},
                                        "denominator": {"value": 1}}}]}
    adm = {"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
           "extension": [{"url": F.EXT_ESTABLISHMENT,
                          "valueIdentifier": {"system": F.EST, "value": "EST-HOS"}}],
           "medicationReference": {"reference": "Medication/m1"},
           "subject": {"identifier": {"system": "urn:pe:dni", "value": "45678912"}},
           "performer": [{"actor": {"identifier": {"system": F.PRO, "value": "CEP-00077"}}}],
           "effectiveDateTime": "2025-03-14T09:30:00-05:00",
           "dosage": {"dose": {"value": 0.05, "code": "mg"}}}
    report = F.import_fhir(engine, [("n.ndjson", (json.dumps(med) + "\n" + json.dumps(adm)
                                                   + "\n").encode())])
    assert report.total("accepted") == 1, report.as_text()
    m = session.scalars(select(Movement)).one()
    assert (m.event_type, m.establishment_id, m.quantity, m.professional_id) == \
        ("administer", "EST-HOS", 0.5, "CEP-00077")


def test_the_endpoint_answers_an_operation_outcome(live_app, engine, data_dir):
    import httpx

    from centinela.accounts.service import create_user
    from centinela.accounts.tokens import create_token

    write_registry(data_dir)
    import_directory(engine, data_dir, realtime=False)
    with session_scope(engine) as s:
        user = create_user(s, "hospital-x", "a-long-enough-passphrase-42", "institution")
        s.flush()
        token, _ = create_token(s, user, "fhir test", ["ingest"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    bad = _dispense(id="d9", identifier=[{"system": F.EVENT, "value": "FH-9"}], status="stopped")
    r = httpx.post(f"{live_app}/api/v1/fhir", content=_bundle(_dispense(), REQUEST, bad),
                   headers=headers, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    errors = [i for i in body["issue"] if i["severity"] == "error"]
    assert len(errors) == 1 and errors[0]["expression"] == ["Bundle.entry[2]"]
    assert "accepted 1" in body["issue"][-1]["diagnostics"]
    r = httpx.post(f"{live_app}/api/v1/fhir", content=b"garbage", headers=headers, timeout=30)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
    r = httpx.post(f"{live_app}/api/v1/fhir", content=_bundle(_dispense()), timeout=30)
    assert r.status_code in (401, 403)  # no credentials: refused (CSRF or auth)
