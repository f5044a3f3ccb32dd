"""Schemathesis against the EWS operations of the OpenAPI document: no server errors."""

from __future__ import annotations

import datetime as dt

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from centinela.accounts.models import User
from centinela.db import session_scope
from centinela.ews.signals import record_signal
from centinela.web.app import create_app


def test_ews_operations_never_answer_5xx(engine, now):
    with session_scope(engine) as s:
        s.add(User(username="ana", password_hash="x", role="national_analyst", departments=[],
                   created_at=now))
        record_signal(s, "lab", "S1", now - dt.timedelta(days=1), ubigeo="150101",
                      substance="fentanyl", inchikey="PJMPHNIQZUBGLI-UHFFFAOYSA-N")
    app = create_app(engine)
    app.state.clock = lambda: now
    app.state.user_resolver = lambda request, session: session.scalar(
        select(User).where(User.username == "ana"))
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if "ews" in (op.tags or ())]
    assert len(operations) >= 9
    failures: list[str] = []

    def fuzz(operation):
        @settings(max_examples=6, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data):
            case = data.draw(operation.as_strategy())
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()

    for operation in operations:
        fuzz(operation)
    assert not failures, "\n".join(sorted(set(failures)))
