"""Schemathesis over the customs API (queue, parcel, outcome): never a server error."""

from __future__ import annotations

import datetime as dt

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web_support import login


def test_customs_operations_never_answer_5xx(app, world, session, tmp_path):
    from centinela.customs.generate import generate, write
    from centinela.customs.intake import import_parcels_file
    from centinela.customs.triage import triage

    write(generate(120, seed=3), tmp_path / "g", images=5, seed=3)
    import_parcels_file(session, tmp_path / "g" / "parcels.csv", None)
    triage(session, dt.datetime(2025, 7, 1))
    session.commit()
    client = login(app, "aduana")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if "customs" in (op.tags or ())]
    assert len(operations) >= 3
    auth = {"X-CSRF-Token": client.headers["X-CSRF-Token"]}
    cookies = dict(client.cookies.items())
    failures: list[str] = []

    def fuzz(operation):
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data):
            case = data.draw(operation.as_strategy())
            response = case.call(headers=auth, cookies=cookies)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.text[:200]}")

        run()

    for operation in operations:
        fuzz(operation)
    assert not failures, "\n".join(sorted(set(failures)))
