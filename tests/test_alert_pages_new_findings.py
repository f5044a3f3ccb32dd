"""The alert pages of this stop's findings read as sentences with their chart, in Spanish and
English: a dentist's patches (prescriber_scope), doses after the course (late_administration),
one nurse behind reused serials and one receiver behind lost shipments (the roll-ups)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.detect_factory import FENT_AMP, FENT_PATCH, days, est, mv, prof
from tests.test_alert_charts import SNAKE, visible_text
from tests.test_detect_late_administration import T0 as WARD_T0
from tests.test_detect_late_administration import _ward
from tests.web_support import PASSWORD, fast_argon2, login  # noqa: F401

T = dt.datetime(2025, 6, 2, 15)


@pytest.fixture
def alerts(engine, session) -> dict[tuple[str, str], str]:
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.detect.engine import run_all

    _ward(session, plant=True)  # base products, a hospital ward, CEP-X charging late doses
    est(session, "PH-1")
    est(session, "D1", "distributor")
    prof(session, "COP-00777")
    for k in range(6):
        mv(session, "dispense", "PH-1", FENT_PATCH, 10, days(T, 7 * k),
           prescriber_id="COP-00777", patient_id=f"PSN:D{k % 3}", days_supply=30)
    for i in range(4):
        mv(session, "administer", "HOSP-1", FENT_AMP, 1, days(T, i), serial=f"SN-{i}",
           patient_id=f"PSN:a{i}", professional_id="CEP-01")
        mv(session, "administer", "HOSP-1", FENT_AMP, 1, days(T, i + 2), serial=f"SN-{i}",
           patient_id=f"PSN:b{i}", professional_id="CEP-09")
        mv(session, "transfer_out", "D1", FENT_AMP, 20, days(T, 5 * i), counterparty_id="PH-1",
           event_id=f"SHIP-{i}")
    mv(session, "dispense", "PH-1", FENT_AMP, 1, days(T, 60), patient_id="PSN:x1",
       prescriber_id="CMP-1")
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    _whole_units(session)
    session.commit()
    run_all(engine, only=["prescriber_scope", "late_administration", "serial_reuse",
                          "transfer_not_received", "whole_unit_administrations"],
            now=days(T, 70))
    session.expire_all()
    return {(a.detector, a.subject_id): a.alert_id for a in session.scalars(select(Alert))}


def _whole_units(session) -> None:
    """ER-1: ten nurses at about 20 % whole ampoules, CEP-W at 55 % (the detector's own test)."""
    import numpy as np

    from tests.test_detect_whole_units import _ward

    er = {f"CEP-E{i:02d}": (0.2, 60) for i in range(10)}
    er["CEP-W"] = (0.55, 70)
    _ward(session, np.random.default_rng(3), "ER-1", er)


@pytest.fixture
def app(engine):
    from centinela.web.app import create_app

    return create_app(engine)


CASES = {
    ("prescriber_scope", "COP-00777"): {"es": "fuera del ámbito de su profesión",
                                        "en": "outside the scope of the profession"},
    ("late_administration", "CEP-X"): {"es": "había terminado al menos 48 h antes",
                                       "en": "had ended at least 48 h before"},
    ("serial_reuse", "CEP-09"): {"es": "cuya serie ya figuraba consumida",
                                 "en": "whose serial was already recorded as consumed"},
    ("transfer_not_received", "PH-1"): {"es": "no registró la recepción de 4 envíos",
                                        "en": "did not book the receipt of 4 shipments"},
    ("whole_unit_administrations", "CEP-W"): {"es": "como ampollas enteras",
                                              "en": "as whole ampoules"},
}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_each_new_finding_reads_as_a_sentence_with_a_chart(app, alerts, lang):
    assert WARD_T0 < T  # the ward's year comes first
    client = login(app, "analista")
    for key, said in CASES.items():
        assert key in alerts, (key, sorted(alerts))
        r = client.get(f"/alerts/{alerts[key]}?lang={lang}")
        assert r.status_code == 200, (key, r.text[:300])
        text = visible_text(r.text)
        assert said[lang] in text, (key, lang)
        assert "alert-chart" in r.text, (key, "no chart")
        snake = sorted(set(SNAKE.findall(text)) - {"event_ids"})
        assert not snake, (key, lang, snake)
