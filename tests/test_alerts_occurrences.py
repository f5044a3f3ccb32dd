"""One open alert per subject and pattern; closed cases suppress repeats unless they grow."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.cases import act
from centinela.alerts.models import Alert, Delivery
from centinela.alerts.service import AlertDraft, upsert_alert

T = dt.datetime(2025, 6, 1, 12)


def _draft(day: int, score: float = 50.0, mme: float = 100.0, **kw) -> AlertDraft:
    base = dict(detector="waste_unwitnessed", subject_kind="professional", subject_id="CEP-1",
                severity="medium" if score < 65 else "high", score=score,
                window_start=T + dt.timedelta(days=day), window_end=T + dt.timedelta(days=day + 2),
                summary=f"Prueba {day}.", department="08", ubigeo="080101", topics=["waste"],
                evidence={"mme": mme, "event_ids": [f"E{day}"]}, grouped=True)
    return AlertDraft(**(base | kw))


def test_repeats_become_occurrences_of_one_open_alert(session):
    a, created = upsert_alert(session, _draft(0), now=T)
    queued = session.query(Delivery).count()
    b, created2 = upsert_alert(session, _draft(40), now=T)
    c, created3 = upsert_alert(session, _draft(80, score=70), now=T)
    assert created and not created2 and not created3
    assert a.alert_id == b.alert_id == c.alert_id
    assert session.query(Alert).count() == 1
    ev = c.evidence
    assert ev["occurrence_count"] == 3
    assert [o["window_start"][:10] for o in ev["occurrences"]] == ["2025-06-01", "2025-07-11",
                                                                   "2025-08-20"]
    assert c.window_start == T and c.window_end == T + dt.timedelta(days=82)
    assert c.severity == "high" and c.summary == "Prueba 80."
    # A repeat at the same severity queues nothing new; the rise to high re-notifies once.
    assert session.query(Delivery).count() == 2 * queued
    # Re-running the same findings (a scheduled run) changes nothing.
    upsert_alert(session, _draft(40), now=T)
    assert session.query(Alert).one().evidence["occurrence_count"] == 3


def test_a_grown_window_replaces_its_occurrence(session):
    upsert_alert(session, _draft(0), now=T)
    a, _ = upsert_alert(session, _draft(1), now=T)  # overlaps the first: the same finding
    assert a.evidence["occurrence_count"] == 1


def test_closed_as_false_positive_suppresses_until_the_magnitude_grows(session):
    a, _ = upsert_alert(session, _draft(0), now=T)
    act(session, a.alert_id, "close", "analista", outcome="false_positive", now=T)
    again, created = upsert_alert(session, _draft(40), now=T + dt.timedelta(days=40))
    assert not created and again.alert_id == a.alert_id and again.status == "closed"
    assert session.query(Alert).count() == 1
    grown, created = upsert_alert(session, _draft(60, mme=400.0), now=T + dt.timedelta(days=60))
    assert created and grown.status == "new"
    # A confirmed case does not suppress; nor does a justified one after the period.
    act(session, grown.alert_id, "close", "analista", outcome="justified",
        now=T + dt.timedelta(days=61))
    later, created = upsert_alert(session, _draft(300, mme=400.0), now=T + dt.timedelta(days=300))
    assert created and later.alert_id not in (a.alert_id, grown.alert_id)


def test_two_findings_of_one_run_on_one_subject_are_two_occurrences_in_any_order(session):
    # A detector that judges each presentation flags two of one pharmacy's in the same run,
    # over overlapping windows. Before, the second replaced the first's occurrence: the alert
    # kept one finding's score and the other's window, and which depended on the order the
    # detector listed them in (a set's order, different in every process).
    from centinela.alerts.service import in_upsert_order

    def both():
        return [_draft(0, score=60, detector="disposal_share", subject_kind="establishment",
                       subject_id="EST-9", window_end=T + dt.timedelta(days=30),
                       evidence={"mme": 10.0, "product_code": "EE-11"}),
                _draft(5, score=88, detector="disposal_share", subject_kind="establishment",
                       subject_id="EST-9", summary="Fuerte.",
                       evidence={"mme": 90.0, "product_code": "EE-03"})]

    seen = []
    for order in (both(), both()[::-1]):
        session.query(Delivery).delete()
        session.query(Alert).delete()
        for d in in_upsert_order(order):
            upsert_alert(session, d, now=T)
        a = session.query(Alert).one()
        seen.append((a.alert_id, a.score, a.severity, a.summary, a.window_start, a.window_end,
                     [(o["finding"], o["score"]) for o in a.evidence["occurrences"]]))
    assert seen[0] == seen[1]
    alert_id, score, severity, summary, start, end, occ = seen[0]
    assert (score, severity, summary) == (88, "high", "Fuerte.")
    assert (start, end) == (T, T + dt.timedelta(days=30))
    assert sorted(occ) == [("EE-03", 88), ("EE-11", 60)]
    # The next scheduled run finds the same two: each replaces its own occurrence.
    for d in in_upsert_order(both()):
        upsert_alert(session, d, now=T)
    assert session.query(Alert).one().evidence["occurrence_count"] == 2


def test_occurrences_stored_before_findings_were_recorded_still_merge(session):
    # Alerts stored by earlier versions hold occurrences without a "finding": a new draft of
    # an overlapping window replaces one, a later one is added beside it.
    from sqlalchemy.orm.attributes import flag_modified

    a, _ = upsert_alert(session, _draft(0), now=T)
    for o in a.evidence["occurrences"]:
        o.pop("finding")
    a.evidence["occurrences"].append({**a.evidence["occurrences"][0],
                                      "window_start": (T + dt.timedelta(days=40)).isoformat(),
                                      "window_end": (T + dt.timedelta(days=42)).isoformat()})
    flag_modified(a, "evidence")
    session.flush()
    b, created = upsert_alert(session, _draft(1, evidence={"mme": 1.0, "product_code": "EE-1"}),
                              now=T)
    assert not created and b.alert_id == a.alert_id
    assert [o["window_start"][:10] for o in b.evidence["occurrences"]] == ["2025-06-02",
                                                                           "2025-07-11"]
