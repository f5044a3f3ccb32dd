"""End to end on the shipped sample exports: ingest, leads, confirm/dismiss, alerts, signals, purge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from centinela import audit
from centinela.alerts.models import Alert
from centinela.ews.models import Signal
from centinela.online.leads import LeadError, UnionFind, decide, mask_identifiers
from centinela.online.models import (
    OnlineFeedback,
    OnlineLead,
    OnlineLeadKey,
    OnlinePost,
    OnlineSeen,
)
from centinela.online.service import feedback_rows, ingest_file, purge
from centinela.registry.models import Establishment

FIX = Path(__file__).parent / "fixtures" / "online"
FILES = ["posts.csv", "posts.jsonl", "darknet_listings.csv", "telegram/result.json",
         "Chat de WhatsApp con Ventas Lima Norte.txt", "whatsapp_ios.txt"]


@pytest.fixture
def loaded(session, now):
    session.add(Establishment(establishment_id="EST-0000001", name="Botica San Judas Tadeo S.A.C.",
                              kind="drugstore", sector="private", ubigeo="200104", department="20",
                              authorized_controlled=True))
    session.flush()
    reports = [ingest_file(session, FIX / f, now) for f in FILES]
    session.commit()
    return reports


def _lead_with(session, kind, value) -> OnlineLead:
    key = session.scalar(select(OnlineLeadKey).where(OnlineLeadKey.kind == kind,
                                                     OnlineLeadKey.value == value))
    return session.get(OnlineLead, key.lead_id)


def test_union_find():
    uf = UnionFind()
    uf.union("a", "b")
    uf.union("c", "d")
    uf.union("b", "d")
    uf.find("e")
    assert sorted(sorted(g) for g in uf.groups().values()) == [["a", "b", "c", "d"], ["e"]]


def test_ingest_keeps_only_offers_and_is_idempotent(session, loaded, now):
    total_read = sum(r.read for r in loaded)
    positives = sum(r.positive for r in loaded)
    assert total_read == 26 and 0 < positives < total_read
    assert session.scalar(select(func.count()).select_from(OnlinePost)) == positives
    assert session.scalar(select(func.count()).select_from(OnlineSeen)) == total_read
    stored = " ".join(session.scalars(select(OnlinePost.text)))
    assert "cachorros" not in stored and "Incautan" not in stored and "Ibuprofeno" not in stored
    again = ingest_file(session, FIX / "posts.csv", now)
    assert again.duplicates == again.read == 8 and again.positive == 0


def test_leads_join_phone_across_platforms_and_link_places_and_establishment(session, loaded):
    lead = _lead_with(session, "phone", "+51987654321")
    assert {"facebook", "instagram", "telegram"} <= set(lead.platforms)
    assert lead.n_posts >= 4 and lead.department == "20"
    assert lead.establishment_ids == ["EST-0000001"]
    assert "fentanyl" in lead.substances
    wa = _lead_with(session, "phone", "+51912345678")  # WhatsApp sender number + Instagram plin
    assert {"instagram", "whatsapp"} <= set(wa.platforms) and wa.department == "15"
    dark = _lead_with(session, "handle", "@andes_pharma")
    assert dark.n_posts == 2 and dark.department is None


def test_confirm_raises_alert_signal_feedback_and_audit(session, loaded, now):
    lead = _lead_with(session, "phone", "+51987654321")
    decide(session, lead.lead_id, "confirm", "analista1", "Vendedor reincidente", now)
    session.commit()
    alert = session.scalar(select(Alert).where(Alert.detector == "online_lead"))
    assert alert.subject_kind == "establishment" and alert.subject_id == "EST-0000001"
    assert alert.topics == ["online", "criminal"] and alert.severity in ("high", "critical")
    assert alert.evidence["lead_id"] == lead.lead_id and "+51987654321" not in str(alert.evidence)
    assert lead.alert_id == alert.alert_id
    sig = session.scalar(select(Signal).where(Signal.source_kind == "online"))
    assert sig.source_id == lead.lead_id and sig.department == "20" and sig.substance == "fentanyl"
    rows = feedback_rows(session)
    assert len(rows) == lead.n_posts and all(r["label"] == 1 for r in rows)
    assert all("987" not in r["text"] for r in rows)  # identifiers masked in training data
    entry = session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "online.lead.confirm"))
    assert entry.subject == lead.lead_id and entry.reason == "Vendedor reincidente"
    assert audit.verify(session) == (True, None)
    # The note says which decision and when, in Lima time (now is UTC).
    assert "(confirmado)" in lead.note and "hora de Lima" in lead.note
    # A confirmed lead's alert went to the police: it is withdrawn there, not by a dismissal.
    with pytest.raises(LeadError, match=f"sent as alert {alert.alert_id}"):
        decide(session, lead.lead_id, "dismiss", "analista1", "Me equivoqué", now)
    assert lead.status == "confirmed"


def test_confirm_region_needs_department_and_dismiss(session, loaded, now):
    dark = _lead_with(session, "handle", "@andes_pharma")
    with pytest.raises(LeadError, match="give its department"):
        decide(session, dark.lead_id, "confirm", "a1", "ok", now)
    with pytest.raises(LeadError, match="note is required"):
        decide(session, dark.lead_id, "dismiss", "a1", "  ", now)
    decide(session, dark.lead_id, "confirm", "a1", "Envía desde Tumbes", now, department="24")
    alert = session.scalar(select(Alert).where(Alert.detector == "online_lead"))
    assert alert.subject_kind == "region" and alert.subject_id == "24"
    other = _lead_with(session, "phone", "+51956111222")
    decide(session, other.lead_id, "dismiss", "a1", "Venta de parches de un paciente, derivado", now)
    assert other.status == "dismissed"
    labels = {r["label"] for r in feedback_rows(session) if r["lead_id"] == other.lead_id}
    assert labels == {0}


def test_new_posts_merge_leads(session, loaded, now, tmp_path):
    a = _lead_with(session, "phone", "+51987654321").lead_id
    b = _lead_with(session, "phone", "+51912345678").lead_id
    bridge = tmp_path / "bridge.csv"
    bridge.write_text("platform,author,text,time,url\nfacebook,X,\"Vendo fentanilo ampollas sin receta, "
                      "wsp 987654321 o plin 912345678\",2025-11-20T10:00:00-05:00,https://fb.test/9\n",
                      encoding="utf-8")
    ingest_file(session, bridge, now)
    assert session.get(OnlineLead, b) is None or session.get(OnlineLead, a) is None
    merged = _lead_with(session, "phone", "+51912345678")
    assert merged.lead_id == _lead_with(session, "phone", "+51987654321").lead_id
    assert "fusionado" in merged.note


def test_purge_respects_retention(session, loaded, now):
    later = now + dt.timedelta(days=400)
    dark = _lead_with(session, "handle", "@andes_pharma")
    decide(session, dark.lead_id, "dismiss", "a1", "no es oferta real", now)
    counts = purge(session, later, retention_days=365)
    assert counts["posts_of_dismissed_leads"] == 2 and counts["keys_of_dismissed_leads"] >= 1
    assert counts["seen_hashes"] >= 1
    assert session.scalar(select(func.count()).select_from(OnlineSeen).where(
        OnlineSeen.positive.is_(False))) == 0
    assert session.scalar(select(func.count()).select_from(OnlineFeedback)) == 2  # training kept
    assert purge(session, now, retention_days=365)["posts_without_lead"] == 0


def test_mask_identifiers():
    masked = mask_identifiers("yape 987 654 321, @plug_pe, t.me/plug, BCP 191-12345678-0-12")
    assert masked == "yape 900 000 000, @usuario, https://enlace, BCP 0000000000"
