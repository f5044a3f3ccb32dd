"""SYNTHETIC courier/postal manifests and X-ray images with planted trafficking parcels.

Everything written here is invented: names, senders, phones, values and images. Planted parcels
follow several patterns (precursor consignments, small powder parcels to new consignees, known
senders, clean-looking ones that only the image can reveal) beside legitimate look-alikes
(laboratory chemicals under HS 2933.39, undervalued e-commerce, frequent online shoppers,
protein powder and shampoo in the images). Used by ``centinela customs generate``, the tests and
``benchmarks/customs_triage.py``; never tune the scoring to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centinela.customs import identity
from centinela.customs.imaging.synth import make_image
from centinela.reference import ubigeo as ubigeo_ref

FIRST = ["Juan", "María", "Luis", "Rosa", "Carlos", "Ana", "Jorge", "Lucía", "Pedro", "Carmen",
         "José", "Elena", "Miguel", "Sofía", "Diego", "Valeria", "Jhon", "Milagros", "Renzo",
         "Kiara", "Wilmer", "Yesenia", "Edwin", "Flor"]
LAST = ["Quispe", "Flores", "Sánchez", "Rodríguez", "García", "Huamán", "Mamani", "Chávez",
        "Rojas", "Vásquez", "Ramírez", "Torres", "Mendoza", "Castillo", "Ccori", "Paredes",
        "Salazar", "Gutiérrez", "Condori", "Espinoza"]
ORIGINS = [("CN", 0.42, ["Shenzhen", "Yiwu", "Guangzhou", "Shanghai", "Wuhan"]),
           ("US", 0.2, ["Miami", "Los Angeles", "Houston", "New York"]),
           ("ES", 0.05, ["Madrid", "Barcelona"]), ("BR", 0.04, ["São Paulo"]),
           ("CL", 0.04, ["Santiago"]), ("CO", 0.03, ["Bogotá", "Medellín"]),
           ("MX", 0.03, ["Ciudad de México", "Guadalajara", "Culiacán"]),
           ("HK", 0.04, ["Hong Kong"]), ("IN", 0.04, ["Mumbai", "Hyderabad", "Delhi"]),
           ("DE", 0.03, ["Hamburg", "Frankfurt"]), ("KR", 0.03, ["Seoul"]),
           ("JP", 0.02, ["Tokyo"]), ("AR", 0.02, ["Buenos Aires"]), ("CA", 0.01, ["Toronto"])]
GOODS = [("polo de algodón", "6109100000", 0.25, 12), ("zapatillas", "6404110000", 1.0, 45),
         ("audífonos bluetooth", "8518300000", 0.3, 25), ("cargador de celular", "8504409000", 0.2, 10),
         ("crema facial", "3304990000", 0.2, 15), ("perfume", "3303000000", 0.4, 35),
         ("juguete", "9503009900", 0.5, 14), ("libros", "4901999000", 1.2, 30),
         ("vitaminas", "2106909000", 0.4, 20), ("repuestos de auto", "8708999000", 2.5, 60),
         ("reloj", "9102110000", 0.15, 40), ("casaca", "6201930000", 0.8, 35),
         ("power bank", "8507600000", 0.35, 20), ("maquillaje", "3304200000", 0.3, 18),
         ("tablet", "8471300000", 0.6, 150), ("herramientas", "8205590000", 1.8, 40),
         ("proteína en polvo", "2106102000", 2.0, 45), ("smartwatch", "8517620000", 0.2, 60)]
CARRIERS = ["SERPOST", "DHL", "FEDEX", "UPS", "OLVA", "ALIEXPRESS-STD", "CAINIAO"]


@dataclass
class Planted:
    tracking_id: str
    pattern: str
    image_class: str | None


@dataclass
class Batch:
    parcels: list[dict] = field(default_factory=list)  # raw rows of parcels.csv
    planted: dict[str, Planted] = field(default_factory=dict)
    history_outcomes: list[dict] = field(default_factory=list)  # outcomes.csv rows
    online_phones: list[str] = field(default_factory=list)  # phones of invented online leads


def _name(rng) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"


def _phone(rng) -> str:
    return "9" + "".join(str(d) for d in rng.integers(0, 10, 8))


def generate(n: int, seed: int = 1, start: dt.date = dt.date(2025, 5, 1), days: int = 60,
             bad_rate: float = 0.008) -> Batch:
    """Return ``n`` parcel rows over ``days`` days, about ``bad_rate`` of them planted."""
    rng = np.random.default_rng(seed)
    codes = [c for c in ubigeo_ref.districts() if c.startswith(("1501", "0701", "1301", "2001",
                                                                   "0401", "1401", "2501"))]
    weights = np.array([ubigeo_ref.districts()[c].population for c in codes], dtype=float)
    weights /= weights.sum()
    o_codes = [o[0] for o in ORIGINS]
    o_p = np.array([o[1] for o in ORIGINS])
    o_p /= o_p.sum()
    shoppers = [(_name(rng), str(rng.choice(codes, p=weights)), _phone(rng),
                 f"Av. {rng.choice(LAST)} {int(rng.integers(100, 3000))}") for _ in range(max(50, n // 3))]
    heavy = shoppers[: max(5, len(shoppers) // 40)]  # frequent online shoppers: look-alikes
    senders = {c: [f"{c} Trading Co. {i}" for i in range(40)] for c in o_codes}
    batch = Batch()
    # Trafficking networks: a sender, a mule district, several fresh consignees, a phone.
    networks = []
    for k in range(max(3, int(n * bad_rate / 4))):
        origin = str(rng.choice(["MX", "US", "CN", "CA", "NL", "HK", "CO", "ES", "BR"],
                                p=[.25, .2, .15, .05, .05, .05, .1, .08, .07]))
        networks.append({"origin": origin, "sender": f"{origin} Global Goods {k}",
                         "district": str(rng.choice(codes, p=weights)),
                         "phone": _phone(rng), "known": rng.random() < 0.3,
                         "lead": rng.random() < 0.3})
    for net in networks:
        if net["lead"]:
            batch.online_phones.append(net["phone"])

    t0 = dt.datetime.combine(start, dt.time(0, 0))
    for i in range(n):
        tid = f"{rng.choice(['LP', 'RR', 'CP', 'EE'])}{int(rng.integers(10**8, 10**9))}PE{i:07d}"
        at = t0 + dt.timedelta(seconds=int(rng.integers(0, days * 86400)))
        origin = str(rng.choice(o_codes, p=o_p))
        city = str(rng.choice(dict((o[0], o[2]) for o in ORIGINS)[origin]))
        person = heavy[int(rng.integers(len(heavy)))] if rng.random() < 0.15 else \
            shoppers[int(rng.integers(len(shoppers)))]
        goods = GOODS[int(rng.integers(len(GOODS)))]
        qty = int(rng.integers(1, 4))
        kg = max(0.05, goods[2] * qty * float(rng.lognormal(0, 0.3)))
        usd = goods[3] * qty * float(rng.lognormal(0, 0.4))
        content, hs = goods[0], goods[1]
        r = rng.random()
        if r < 0.12:
            usd *= float(rng.uniform(0.1, 0.4))  # undervaluation (tax evasion, not drugs)
        elif r < 0.18:
            content = str(rng.choice(["regalo", "gift", "muestra", "accesorios", "varios"]))
        elif r < 0.185:  # laboratory chemicals, lawfully imported (look-alike)
            content, hs = str(rng.choice(["reactivo de laboratorio", "4-piperidone hydrochloride",
                                          "chemical intermediate"])), "2933399000"
            kg = float(rng.uniform(0.5, 20))
            usd = kg * float(rng.uniform(30, 200))
            origin = str(rng.choice(["IN", "CN", "DE"]))
        row = {
            "tracking_id": tid, "carrier": str(rng.choice(CARRIERS)),
            "arrived_at": at.strftime("%Y-%m-%dT%H:%M:%S") + "-05:00", "origin_country": origin,
            "origin_city": city, "transit_countries": str(rng.choice(["", "", "", "US", "PA"])),
            "sender_name": str(rng.choice(senders.get(origin, senders["CN"]))),
            "sender_phone": "", "consignee_name": person[0], "consignee_document": "",
            "consignee_address": person[3], "consignee_phone": person[2] if rng.random() < 0.7 else "",
            "consignee_ubigeo": person[1], "declared_content": content,
            "hs_code": hs if rng.random() < 0.6 else "",
            "declared_value_usd": f"{usd:.2f}", "weight_kg": f"{kg:.3f}",
            "length_cm": "", "width_cm": "", "height_cm": "", "image": "",
        }
        if row["transit_countries"] == origin:
            row["transit_countries"] = ""
        if rng.random() < 0.6:
            side = (kg / float(rng.uniform(0.15, 0.6)) * 1000) ** (1 / 3)
            row.update(length_cm=f"{side * 1.4:.1f}", width_cm=f"{side:.1f}",
                       height_cm=f"{side / 1.4:.1f}")
        if rng.random() < bad_rate:
            _plant(rng, row, networks, codes, weights, batch)
        batch.parcels.append(row)
    # Earlier seizures of the "known" networks: what Centinela would already hold.
    for k, net in enumerate(networks):
        if net["known"]:
            batch.history_outcomes.append({
                "tracking_id": f"HIST{seed:03d}{k:05d}PE", "sender_name": net["sender"],
                "origin_country": net["origin"], "consignee_phone": net["phone"],
                "consignee_ubigeo": net["district"]})
    return batch


def _plant(rng, row: dict, networks: list[dict], codes, weights, batch: Batch) -> None:
    net = networks[int(rng.integers(len(networks)))]
    pattern = str(rng.choice(["precursor", "small_powder", "concealed", "clean"],
                             p=[0.2, 0.35, 0.3, 0.15]))
    image_class = None
    if pattern == "precursor":
        origin = str(rng.choice(["CN", "HK", "IN"]))
        row.update(origin_country=origin, origin_city="", sender_name=f"{origin} Fine Chem {int(rng.integers(1, 9))}",
                   declared_content=str(rng.choice(["pigment", "chemical intermediate", "1-boc-4-piperidone",
                                                    "N-phenethyl-4-piperidone", "tinte industrial"])),
                   hs_code=str(rng.choice(["2933399000", "2933370000", "3204170000", "2933990000", ""])),
                   weight_kg=f"{rng.uniform(1, 25):.3f}")
        row["declared_value_usd"] = f"{float(row['weight_kg']) * rng.uniform(2, 20):.2f}"
        image_class = "powder"
    else:
        person = (_name(rng), net["district"] if rng.random() < 0.7 else str(rng.choice(codes, p=weights)))
        kg = float(rng.uniform(0.05, 0.9))
        row.update(origin_country=net["origin"], sender_name=net["sender"],
                   consignee_name=person[0], consignee_ubigeo=person[1],
                   consignee_address=f"Jr. {rng.choice(LAST)} {int(rng.integers(1, 900))}",
                   consignee_phone=net["phone"] if rng.random() < 0.6 else _phone(rng),
                   weight_kg=f"{kg:.3f}")
        if pattern == "small_powder":
            row.update(declared_content=str(rng.choice(["regalo", "muestra", "accesorios", "documentos",
                                                        "vitaminas", "crema facial"])),
                       hs_code="", declared_value_usd=f"{rng.uniform(1, 25):.2f}")
            image_class = str(rng.choice(["powder", "concealment_cosmetics", "liquid"]))
        elif pattern == "concealed":
            row.update(declared_content=str(rng.choice(["audífonos bluetooth", "power bank", "perfume",
                                                        "crema facial", "cargador de celular"])),
                       declared_value_usd=f"{rng.uniform(8, 60):.2f}")
            image_class = "concealment_electronics" if row["declared_content"] in (
                "audífonos bluetooth", "power bank", "cargador de celular") else "concealment_cosmetics"
        else:  # clean paperwork, ordinary origin: only the image can tell
            row.update(origin_country=str(rng.choice(["ES", "BR", "CL", "US"])),
                       sender_name=f"{row['origin_country']} Trading Co. {int(rng.integers(0, 40))}",
                       declared_content=str(rng.choice(["polo de algodón", "libros", "juguete"])),
                       declared_value_usd=f"{rng.uniform(15, 80):.2f}", weight_kg=f"{rng.uniform(0.3, 1.5):.3f}",
                       consignee_phone=_phone(rng))
            image_class = str(rng.choice(["powder", "concealment_electronics", "liquid"]))
    batch.planted[row["tracking_id"]] = Planted(row["tracking_id"], pattern, image_class)


def image_for(tracking_id: str, planted: Planted | None, seed: int) -> np.ndarray:
    """Return the SYNTHETIC X-ray image of a parcel (a planted one carries its concealment)."""
    rng = np.random.default_rng([seed, zlib.crc32(tracking_id.encode())])
    cls = planted.image_class if planted else None
    return make_image(rng, cls, dual=bool(rng.random() < 0.85)).array


def write(batch: Batch, folder: Path, images: int = 300, seed: int = 1) -> dict:
    """Write parcels.csv, images/ (for ``images`` parcels, planted ones first), outcomes and truth."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    with_image = [r["tracking_id"] for r in batch.parcels if r["tracking_id"] in batch.planted]
    rest = [r["tracking_id"] for r in batch.parcels if r["tracking_id"] not in batch.planted]
    rng.shuffle(rest)
    chosen = set((with_image + rest)[:images])
    for row in batch.parcels:
        if row["tracking_id"] in chosen:
            arr = image_for(row["tracking_id"], batch.planted.get(row["tracking_id"]), seed)
            name = f"images/{row['tracking_id']}.npz"
            buf = io.BytesIO()
            if arr.ndim == 3:
                np.savez_compressed(buf, high=arr[0].astype(np.float16), low=arr[1].astype(np.float16))
            else:
                np.savez_compressed(buf, high=arr.astype(np.float16))
            (folder / name).write_bytes(buf.getvalue())
            row["image"] = name
    rows = list(batch.parcels)
    # Earlier parcels of known networks, already seized (their outcomes follow in outcomes.csv).
    for h in batch.history_outcomes:
        rows.insert(0, {**{k: "" for k in batch.parcels[0]}, "tracking_id": h["tracking_id"],
                        "carrier": "SERPOST", "arrived_at": "2025-03-01T10:00:00-05:00",
                        "origin_country": h["origin_country"], "sender_name": h["sender_name"],
                        "consignee_name": "Destinatario Anterior", "consignee_phone": h["consignee_phone"],
                        "consignee_ubigeo": h["consignee_ubigeo"], "declared_content": "regalo",
                        "declared_value_usd": "5.00", "weight_kg": "0.300", "image": ""})
    with (folder / "parcels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(batch.parcels[0]))
        w.writeheader()
        w.writerows(rows)
    with (folder / "outcomes.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["tracking_id", "outcome", "decided_at", "substance",
                                           "net_mass_mg", "note"])
        w.writeheader()
        for h in batch.history_outcomes:
            w.writerow({"tracking_id": h["tracking_id"], "outcome": "seized",
                        "decided_at": "2025-03-02T12:00:00-05:00", "substance": "fentanyl",
                        "net_mass_mg": "25000", "note": "SYNTHETIC earlier seizure"})
    truth = {tid: {"pattern": p.pattern, "image_class": p.image_class}
             for tid, p in batch.planted.items()}
    (folder / "truth.json").write_text(json.dumps({
        "synthetic": True, "note": "planted parcels of centinela customs generate (evaluation only)",
        "planted": truth, "online_lead_phones": [identity.phone_digits(p) for p in batch.online_phones],
    }, indent=2), encoding="utf-8")
    return {"parcels": len(rows), "planted": len(batch.planted), "images": len(chosen),
            "history_seizures": len(batch.history_outcomes)}
