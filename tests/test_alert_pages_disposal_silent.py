"""The alert pages of the newer findings — an establishment writing off stock (disposal_share)
and a receiver that stopped reporting (transfer_not_received's silent-receiver notice) — show
their claim in the reader's language: a chart with units, the comparison, plain sentences, no
raw codes. The alerts come from the real detectors over the ledgers of their own tests."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.test_alert_charts import _check_page, visible_text
from tests.web_support import PASSWORD, fast_argon2, login  # noqa: F401


@pytest.fixture
def app(engine):
    from centinela.web.app import create_app

    return create_app(engine)


def _build(session, kind: str):
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.web.views.common import clear_cache
    from tests import test_detect_custody, test_detect_waste_loss

    clear_cache()
    if kind == "disposal":
        test_detect_waste_loss.test_disposal_share_flags_inflated_expiry_waste_not_expired_batches(session)
        where = [Alert.detector == "disposal_share"]
    else:
        test_detect_custody.test_shipment_due_after_the_receivers_last_report_waits_for_its_report(session)
        where = [Alert.detector == "transfer_not_received", Alert.subject_kind == "establishment"]
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    return session.scalars(select(Alert).where(*where)).one()


@pytest.mark.parametrize("lang", ["es", "en"])
def test_write_off_page_compares_the_share_with_peers(app, session, lang):
    alert = _build(session, "disposal")
    page = login(app, "analista").get(f"/alerts/{alert.alert_id}?lang={lang}").text
    assert _check_page(page, "disposal_share", lang) == []
    text = visible_text(page)
    if lang == "es":
        assert "dio de baja el" in text and "establecimientos de su tipo" in text
        assert "dada de baja" in text  # the chart title
    else:
        assert "wrote off" in text and "establishments of its kind" in text
    assert "%" in text


@pytest.mark.parametrize("lang", ["es", "en"])
def test_silent_receiver_page_says_reports_are_missing(app, session, lang):
    alert = _build(session, "silent")
    assert alert.severity == "low"
    page = login(app, "analista").get(f"/alerts/{alert.alert_id}?lang={lang}").text
    text = visible_text(page)
    if lang == "es":
        assert "no reporta movimientos desde el" in text and "reportes faltantes" in text
    else:
        assert "has reported no movement since" in text and "missing reports" in text
    assert "alert-chart" in page
    assert "Shipment GONE" not in text and "El envío GONE" not in text
