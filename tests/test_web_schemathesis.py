"""Schemathesis against the app's OpenAPI document, in-process (ASGI): no server errors.

It fuzzes every operation of the whole app, POST included, with a fixed seed (so CI runs are
reproducible); ``CENTINELA_FUZZ_OWN=1`` limits it to the analyst app's tags while developing.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.web_support import login

# (user, path prefix of the operations fuzzed, examples per operation): the admin reaches
# every operation; the police user covers the access-request endpoints only it may POST to.
OWN_TAGS = {"core", "accounts", "alerts", "profiles", "map", "imports", "lookup", "access",
            "admin"}
FUZZ_ALL = os.environ.get("CENTINELA_FUZZ_OWN") != "1"
SEED = 20251205
RUNS = [("admin", "/", 4), ("policia", "/api/v1/access-requests", 15)]


@pytest.mark.parametrize("username,prefix,examples", RUNS, ids=[r[0] for r in RUNS])
def test_openapi_operations_never_answer_5xx(app, world, username, prefix, examples):
    client = login(app, username)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    operations = [op for op in operations if op.path.startswith(prefix)
                  and (FUZZ_ALL or set(op.tags or ()) & OWN_TAGS)]
    auth = {"X-CSRF-Token": client.headers["X-CSRF-Token"]}
    # Models load on first use (online classifier): warm them so no call runs into the timeout.
    client.post("/api/online/classify", json={"texts": ["vendo ampollas"]})
    client.post("/api/v1/assistant/ask", json={"question": "¿qué es el fentanilo?"})
    cookies = dict(client.cookies.items())
    failures: list[str] = []

    def fuzz(operation):
        @seed(SEED)
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data):
            case = data.draw(operation.as_strategy())
            response = case.call(headers=auth, cookies=cookies, timeout=120)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()

    for operation in operations:
        fuzz(operation)
    assert not failures, "\n".join(sorted(set(failures)))
