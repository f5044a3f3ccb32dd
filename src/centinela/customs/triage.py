"""Score stored parcels: watch-list from Centinela's records, manifest factors, images, combined."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.customs import identity
from centinela.customs.imaging.detector import (
    Detector,
    image_score,
    load_detector,
    log_likelihood_ratio,
)
from centinela.customs.intake import load_image
from centinela.customs.models import Parcel, ParcelImage
from centinela.customs.scoring import ManifestModel, Watchlist, features

COLUMNS = ("tracking_id", "arrived_at", "origin_country", "transit", "sender_key",
           "sender_phone_key", "consignee_key", "consignee_address_key", "consignee_phone_key",
           "ubigeo", "declared_content", "hs_code", "declared_value_usd", "weight_kg",
           "length_cm", "width_cm", "height_cm")
FENTANYL_WORDS = ("fentan", "nitazen", "carfent", "sufent", "remifent", "alfent")


def model_path() -> Path:
    """Where the manifest weights refit from outcomes live (``customs/manifest_model.json``)."""
    return Path(get_settings().data_dir or ".") / "customs" / "manifest_model.json"


def combine(manifest: np.ndarray, image_log_lr: np.ndarray) -> np.ndarray:
    """Update the manifest's odds with the image's likelihood ratio (Bayes; NaN = no image).

    The manifest score is a probability at the parcel's base rate; the image evidence is the
    detector's log-likelihood ratio measured on held-out images, treated as independent of it.
    """
    m = np.clip(np.asarray(manifest, dtype=float), 1e-9, 1 - 1e-9)
    z = np.log(m / (1 - m)) + np.nan_to_num(np.asarray(image_log_lr, dtype=float), nan=0.0)
    return 1.0 / (1.0 + np.exp(-z))


def build_watchlist(session: Session, now: dt.datetime, days: int = 365) -> Watchlist:
    """Collect known-bad keys from seized parcels, online leads, citizen reports and signals."""
    from centinela.ews.models import Signal
    from centinela.online.models import OnlineLead, OnlineLeadKey
    from centinela.public.models import CitizenReport

    w = Watchlist()
    for s, c, a, sp, cp in session.execute(select(
            Parcel.sender_key, Parcel.consignee_key, Parcel.consignee_address_key,
            Parcel.sender_phone_key, Parcel.consignee_phone_key).where(Parcel.outcome == "seized")):
        w.senders.add(s)
        w.consignees.add(c)
        if a:
            w.addresses.add(a)
        w.phones.update(k for k in (sp, cp) if k)
    for value, status in session.execute(
            select(OnlineLeadKey.value, OnlineLead.status).join(
                OnlineLead, OnlineLead.lead_id == OnlineLeadKey.lead_id).where(
                OnlineLeadKey.kind == "phone", OnlineLead.status != "dismissed")):
        key = identity.phone_key(value)
        if key:
            w.lead_phones[key] = f"online lead ({status})"
    for contact, in session.execute(select(CitizenReport.contact_key).where(
            CitizenReport.contact_key.like("tel:%"))):
        key = identity.phone_key(contact[4:])
        if key:
            w.lead_phones.setdefault(key, "citizen report")
    since = now - dt.timedelta(days=days)
    for ubigeo, substance in session.execute(select(Signal.ubigeo, Signal.substance).where(
            Signal.occurred_at >= since, Signal.ubigeo.is_not(None))):
        if substance and any(wd in substance.lower() for wd in FENTANYL_WORDS):
            w.district_signals[ubigeo] = w.district_signals.get(ubigeo, 0) + 1
    return w


def score_images(session: Session, detector: Detector, tracking_ids: list[str],
                 batch: int = 32) -> dict[str, tuple[float, list[dict], float]]:
    """Run the detector over the stored images: (score, regions, log-likelihood ratio)."""
    out: dict[str, tuple[float, list[dict], float]] = {}
    for start in range(0, len(tracking_ids), batch):
        chunk = session.scalars(select(ParcelImage).where(
            ParcelImage.tracking_id.in_(tracking_ids[start:start + batch]))).all()
        arrays = [load_image(im.data, im.fmt) for im in chunk]
        for im, regions in zip(chunk, detector.detect(arrays), strict=True):
            score = image_score(regions)
            llr = float(log_likelihood_ratio(detector, np.array([score]))[0])
            out[im.tracking_id] = (score, [r.as_dict() for r in regions], llr)
    return out


def triage(session: Session, now: dt.datetime, rescore: bool = False,
           detector: Detector | None = None, model: ManifestModel | None = None) -> dict:
    """Score every parcel awaiting review (all of them with ``rescore``); return the counts."""
    model = model or ManifestModel.load(model_path())
    watch = build_watchlist(session, now)
    cols = [getattr(Parcel, c) for c in COLUMNS]
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in session.execute(
        select(*cols).order_by(Parcel.arrived_at))]
    if not rows:
        return {"parcels": 0, "scored": 0, "images": 0, "model": model.source}
    x = features(rows, watch)
    manifest = model.score(x)
    pending = set(session.scalars(select(Parcel.tracking_id).where(
        Parcel.scored_at.is_(None)))) if not rescore else None
    todo = [i for i in range(len(rows)) if pending is None or rows[i]["tracking_id"] in pending]
    ids = [rows[i]["tracking_id"] for i in todo]
    with_image = set(session.scalars(select(ParcelImage.tracking_id)))
    img_ids = [t for t in ids if t in with_image]
    images: dict[str, tuple[float, list[dict], float]] = {}
    det_name = None
    if img_ids:
        detector = detector or load_detector(get_settings().customs_detector)
        det_name = detector.name
        images = score_images(session, detector, img_ids)
    llr = np.array([images[rows[i]["tracking_id"]][2] if rows[i]["tracking_id"] in images
                    else np.nan for i in todo])
    combined = combine(manifest[todo], llr) if todo else np.array([])
    updates = []
    for k, i in enumerate(todo):
        tid = rows[i]["tracking_id"]
        img = images.get(tid)
        m = float(manifest[i])
        isc = img[0] if img else None
        comb = float(combined[k])
        updates.append({
            "tracking_id": tid, "manifest_score": round(m, 6), "image_score": isc,
            "combined_score": round(comb, 6), "factors": model.explain(x[i], rows[i]),
            "regions": img[1] if img else [], "scored_at": now,
            "model_version": f"manifest:{model.source}" + (f"+image:{det_name}" if img else ""),
        })
    for start in range(0, len(updates), 5000):
        session.execute(update(Parcel), updates[start:start + 5000])
    session.flush()
    return {"parcels": len(rows), "scored": len(updates), "images": len(images),
            "model": model.source, "detector": det_name,
            "watchlist": {"senders": len(watch.senders), "consignees": len(watch.consignees),
                          "phones": len(watch.phones), "lead_phones": len(watch.lead_phones)}}
