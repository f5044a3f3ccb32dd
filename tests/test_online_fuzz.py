"""Schemathesis on the online-monitoring API operations: no server errors."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web_support import login


def test_online_operations_never_answer_5xx(app, world):
    from centinela.online.classify import classify

    classify(["warm up"])  # load the model and langid outside the fuzzer's 10 s read timeout
    client = login(app, "admin")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if "online" in (op.tags or ())]
    assert len(operations) == 6
    auth = {"X-CSRF-Token": client.headers["X-CSRF-Token"]}
    cookies = dict(client.cookies.items())
    failures: list[str] = []

    def fuzz(operation):
        @settings(max_examples=6, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data):
            case = data.draw(operation.as_strategy())
            response = case.call(headers=auth, cookies=cookies)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()

    for operation in operations:
        fuzz(operation)
    assert not failures, "\n".join(sorted(set(failures)))
