"""The alert page of a prescription mill (pharmacy_patient_mix) shows its claim in the
reader's language: the share of one-off chronic-strength fills against peers, the red flags,
the prescribers named, plain sentences and no raw codes. The alert comes from the real detector
over the ledger of its own test."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.test_alert_charts import _check_page, visible_text
from tests.web_support import PASSWORD, fast_argon2, login  # noqa: F401


@pytest.fixture
def app(engine):
    from centinela.web.app import create_app

    return create_app(engine)


def _build(session):
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.web.views.common import clear_cache
    from tests import test_detect_pharmacy_mix

    clear_cache()
    test_detect_pharmacy_mix.test_prescription_mill_is_flagged_with_its_prescribers_and_onset(session)
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    return session.scalars(select(Alert).where(Alert.detector == "pharmacy_patient_mix")).one()


@pytest.mark.parametrize("lang", ["es", "en"])
def test_prescription_mill_page_names_the_prescribers_and_red_flags(app, session, lang):
    alert = _build(session)
    page = login(app, "analista").get(f"/alerts/{alert.alert_id}?lang={lang}").text
    assert _check_page(page, "pharmacy_patient_mix", lang) == []
    text = visible_text(page)
    assert "CMP-FAR1" in text and "CMP-FAR2" in text and "%" in text
    if lang == "es":
        assert "pacientes de una sola vez y sin historial" in text
        assert "prescriptores de otro departamento" in text and "Señales de alerta" in text
        assert "inicio brusco" in text
    else:
        assert "one-off patients with no history" in text
        assert "from another department" in text and "Red flags" in text
        assert "sudden onset" in text
