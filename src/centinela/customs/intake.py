"""Import of parcel declarations (``parcels.csv`` / ``parcels.jsonl``) and their X-ray images.

Same discipline as the spec's files: fixed fields, unknown columns rejected, every rejection
kept with its line, field and reason, idempotent on ``tracking_id`` (same content = duplicate,
different content = conflict). Consignee name, document, address and phone are replaced by keyed
hashes before anything is stored, rejections included. Documented in ``docs/intake.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import phonenumbers
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from centinela.customs import identity
from centinela.customs.models import Parcel, ParcelImage
from centinela.ingest.files import RecordError, read_records
from centinela.lib.clock import parse_time
from centinela.privacy import DocumentError, redact
from centinela.reference import ubigeo as ubigeo_ref

FIELDS = (
    "tracking_id", "carrier", "arrived_at", "origin_country", "origin_city", "transit_countries",
    "sender_name", "sender_phone", "consignee_name", "consignee_document", "consignee_address",
    "consignee_phone", "consignee_ubigeo", "declared_content", "hs_code", "declared_value_usd",
    "weight_kg", "length_cm", "width_cm", "height_cm", "image",
)
REQUIRED = ("tracking_id", "carrier", "arrived_at", "origin_country", "sender_name",
            "consignee_name", "consignee_ubigeo", "declared_content", "declared_value_usd",
            "weight_kg")
PRIVATE = ("consignee_name", "consignee_document", "consignee_address", "consignee_phone",
           "sender_phone")
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"XK"}
_TRACKING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{3,39}$")
_HS = re.compile(r"^\d{4}(\d{2}){0,3}$")
_IMAGE = re.compile(r"^[\w][\w./-]{0,199}\.(npz|npy|png)$", re.IGNORECASE)
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_SIDE = 4096


def _number(rec: dict, field: str, lo: float, hi: float, required: bool) -> float | None:
    text = rec[field].replace(",", ".") if rec[field].count(",") == 1 and "." not in rec[field] \
        else rec[field]
    if not text:
        if required:
            raise RecordError(field, f"{field} is required")
        return None
    try:
        value = float(text)
    except ValueError:
        raise RecordError(field, f"{field} must be a number, got {rec[field]!r}") from None
    if not np.isfinite(value) or not lo <= value <= hi:
        raise RecordError(field, f"{field} must be between {lo:g} and {hi:g}, got {value:g}")
    return value


def validate_parcel(raw: dict) -> dict:
    """Return the cleaned, pseudonymized record or raise ``RecordError`` naming field and reason."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise RecordError(unknown[0], "unknown column(s) " + ", ".join(unknown)
                          + " (see docs/intake.md, parcels)")
    rec = {k: ("" if raw.get(k) is None else str(raw.get(k))).strip() for k in FIELDS}
    for k in REQUIRED:
        if not rec[k]:
            raise RecordError(k, f"{k} is required")
    if not _TRACKING.match(rec["tracking_id"]):
        raise RecordError("tracking_id", "tracking_id must be 4-40 letters, digits or ._:/-")
    try:
        arrived = parse_time(rec["arrived_at"])
    except ValueError:
        raise RecordError("arrived_at", "arrived_at must be ISO 8601, e.g. "
                          "2025-03-14T09:30:00-05:00") from None
    country = rec["origin_country"].upper()
    if country not in COUNTRIES:
        raise RecordError("origin_country", f"origin_country {rec['origin_country']!r} is not an "
                          "ISO 3166-1 alpha-2 code")
    transit = [c.strip().upper() for c in re.split(r"[;,]", rec["transit_countries"]) if c.strip()]
    transit = list(dict.fromkeys(c for c in transit if c != country))  # origin is no transit
    bad = [c for c in transit if c not in COUNTRIES]
    if bad:
        raise RecordError("transit_countries", f"transit country {bad[0]!r} is not an ISO 3166-1 "
                          "alpha-2 code (separate codes with ;)")
    code = rec["consignee_ubigeo"].zfill(6) if rec["consignee_ubigeo"].isdigit() \
        else rec["consignee_ubigeo"]
    if not ubigeo_ref.is_valid(code):
        raise RecordError("consignee_ubigeo", f"consignee_ubigeo {rec['consignee_ubigeo']!r} is "
                          "not an INEI district code")
    hs = re.sub(r"[.\s]", "", rec["hs_code"])
    if hs and not _HS.match(hs):
        raise RecordError("hs_code", "hs_code must be 4, 6, 8 or 10 digits (dots allowed), "
                          f"got {rec['hs_code']!r}")
    value = _number(rec, "declared_value_usd", 0, 10_000_000, True)
    weight = _number(rec, "weight_kg", 0.001, 30_000, True)
    dims = [_number(rec, f, 0.1, 1000, False) for f in ("length_cm", "width_cm", "height_cm")]
    if any(d is not None for d in dims) and any(d is None for d in dims):
        raise RecordError("length_cm", "give all three dimensions (length_cm, width_cm, "
                          "height_cm) or none")
    image = rec["image"] or None
    if image and (not _IMAGE.match(image) or ".." in image.split("/")):
        raise RecordError("image", "image must be a relative file name ending in .npz, .npy or "
                          ".png, inside the import folder")
    if len(rec["declared_content"]) > 300 or len(rec["sender_name"]) > 200:
        raise RecordError("declared_content", "declared_content is limited to 300 characters "
                          "and sender_name to 200")
    try:
        consignee = identity.consignee_key(rec["consignee_name"], code,
                                           rec["consignee_document"] or None)
    except DocumentError as err:
        raise RecordError("consignee_document", str(err)) from None
    return {
        "tracking_id": rec["tracking_id"], "carrier": rec["carrier"][:40], "arrived_at": arrived,
        "origin_country": country, "origin_city": rec["origin_city"][:80], "transit": transit,
        "sender_name": redact(rec["sender_name"]),
        "sender_key": identity.sender_key(rec["sender_name"], country),
        "sender_phone_key": identity.phone_key(rec["sender_phone"]),
        "consignee_key": consignee,
        "consignee_address_key": identity.address_key(rec["consignee_address"], code),
        "consignee_phone_key": identity.phone_key(rec["consignee_phone"]),
        "ubigeo": code, "declared_content": redact(rec["declared_content"]), "hs_code": hs or None,
        "declared_value_usd": value, "weight_kg": weight, "length_cm": dims[0],
        "width_cm": dims[1], "height_cm": dims[2], "image": image,
    }


def content_hash(rec: dict) -> str:
    """Hash the cleaned content: the same parcel re-sent is a no-op, a changed one a conflict."""
    body = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def safe_record(raw: dict) -> dict:
    """Return a raw record fit for the rejections table (private fields never stored)."""
    out = {}
    for k, v in raw.items():
        if k == "__error__":
            continue
        out[str(k)[:60]] = "[pseudonymized]" if k in PRIVATE and v else redact(str(v))[:300]
    return out


def load_image(data: bytes, fmt: str) -> np.ndarray:
    """Decode image bytes into float32 attenuation in [0, 1], shape (H, W) or (2, H, W)."""
    if fmt in ("npz", "npy"):
        obj = np.load(io.BytesIO(data), allow_pickle=False)
        if fmt == "npz":
            if "high" not in obj:
                raise ValueError("npz image needs a 'high' array (and optionally 'low')")
            high = np.asarray(obj["high"], dtype=np.float32)
            arr = np.stack([high, np.asarray(obj["low"], dtype=np.float32)]) if "low" in obj \
                else high
        else:
            arr = np.asarray(obj, dtype=np.float32)
        if arr.dtype.kind not in "fiu":
            raise ValueError("image array must be numeric")
    else:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            grey = np.asarray(im.convert("I;16") if im.mode.startswith("I") else im.convert("L"),
                              dtype=np.float32)
        # Transmission images: bright = little attenuation; store attenuation.
        arr = 1.0 - grey / (65535.0 if grey.max() > 255 else 255.0)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[0] != 2):
        raise ValueError(f"image must be (H, W) or (2, H, W), got shape {arr.shape}")
    if min(arr.shape[-2:]) < 32 or max(arr.shape[-2:]) > MAX_SIDE:
        raise ValueError(f"image sides must be 32-{MAX_SIDE} pixels, got {arr.shape[-2:]}")
    if not np.isfinite(arr).all():
        raise ValueError("image has NaN or infinite values")
    if arr.max() > 1.0 + 1e-6 or arr.min() < -1e-6:
        arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-6)
    return arr.astype(np.float32)


def import_parcels_file(session: Session, path, import_id: int | None) -> dict:
    """Import one parcels file (and the images it names) inside the caller's transaction."""
    from centinela.ledger.records import Rejection

    path = Path(path)
    folder = path.parent
    counts = {"read": 0, "accepted": 0, "duplicates": 0, "conflicts": 0, "rejected": 0,
              "images": 0, "images_rejected": 0}
    existing = dict(session.execute(select(Parcel.tracking_id, Parcel.content_hash)).all())
    have_image = set(session.scalars(select(ParcelImage.tracking_id)))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows: list[dict] = []
    images: list[tuple[int, dict, str, str]] = []

    def reject(line: int, raw: dict, field: str | None, reason: str, kind: str = "invalid",
               key: str | None = None, record_type: str = "parcel") -> None:
        session.add(Rejection(import_id=import_id, source=str(path), line=line,
                              record_type=record_type, record_key=key, field=field, kind=kind,
                              reason=redact(reason), record=safe_record(raw), created_at=now))
        counts["conflicts" if kind == "conflict" else
               ("images_rejected" if record_type == "parcel_image" else "rejected")] += 1

    for line, raw in read_records(path):
        counts["read"] += 1
        if "__error__" in raw:
            reject(line, raw, None, raw["__error__"])
            continue
        key = redact(str(raw.get("tracking_id", "")))[:120] or None
        try:
            rec = validate_parcel(raw)
        except RecordError as exc:
            reject(line, raw, exc.field, exc.reason, key=key)
            continue
        image = rec.pop("image")
        digest = content_hash(rec)
        old = existing.get(rec["tracking_id"])
        if old is not None:
            if old == digest:
                counts["duplicates"] += 1
            else:
                reject(line, raw, None, "tracking_id already received with different content",
                       kind="conflict", key=key)
                continue
        else:
            existing[rec["tracking_id"]] = digest
            rows.append({**rec, "content_hash": digest, "import_id": import_id, "factors": [],
                         "regions": [], "outcome_note": ""})
        if image and rec["tracking_id"] not in have_image:
            images.append((line, raw, rec["tracking_id"], image))
    for start in range(0, len(rows), 5000):
        session.execute(insert(Parcel), rows[start:start + 5000])
    counts["accepted"] = len(rows)
    for line, raw, tracking_id, name in images:
        file = folder / name
        fmt = file.suffix.lower().lstrip(".")
        try:
            if not file.is_file():
                raise ValueError(f"image file {name!r} not found next to {path.name}")
            data = file.read_bytes()
            if len(data) > MAX_IMAGE_BYTES:
                raise ValueError(f"image file {name!r} is larger than {MAX_IMAGE_BYTES} bytes")
            load_image(data, fmt)
        except (ValueError, OSError) as exc:
            reject(line, raw, "image", str(exc), key=tracking_id, record_type="parcel_image")
            continue
        session.add(ParcelImage(tracking_id=tracking_id, fmt=fmt,
                                sha256=hashlib.sha256(data).hexdigest(), data=data, stored_at=now))
        have_image.add(tracking_id)
        counts["images"] += 1
    session.flush()
    return counts
