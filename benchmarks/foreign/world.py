#!/usr/bin/env python3
"""A second, independent Peruvian world of controlled opioids ("written elsewhere").

    python3 benchmarks/foreign/world.py OUTDIR --seed N --scale S [--start 2025-01-01]

Writes, in the fixed reporting format (``/work/shared/spec/reporting-format.md``):
establishments.csv, professionals.csv, products.csv, movements.csv, seizures.csv and
``truth.jsonl`` (planted diversion and legitimate look-alikes, the rows that
``benchmarks/detection_quality.py``'s ``evaluate`` reads). Standalone: stdlib + numpy, nothing
from ``centinela.generate`` (written blind to it and to the detectors). The only Centinela files
it reads are the shipped INEI district list and the IPRESS hospital list (names, districts, beds).
Scale 1.0 is one national year (about a million movements).

World
-----
* Supply chain: 3 importers (Lima / Callao) ``import`` lots (with expiry) from foreign firms and
  ``transfer_out`` to 9 distributors (Lima, Arequipa, Trujillo, Chiclayo, Piura, Cusco, Iquitos,
  Huancayo); distributors ``transfer_out`` to hospitals, clinics and pharmacies, which record a
  ``receipt`` 1-5 days later (``counterparty_id`` = the distributor). Each level reorders when its
  physical shelf falls under a reorder point, in whole packs.
* Hospitals: the real IPRESS list (241, beds heavy-tailed 10-690); scale picks a subset (the big
  national hospitals always in). Clinics: private, lognormal beds. Services: anaesthesia (fentanyl
  0.1 mg ampoules opened per case, the dose administered as a fraction and the residue wasted,
  remifentanil in big hospitals), ICU sedation (one infusion row per patient and shift, residue
  wasted when the infusion stops), ward post-op morphine (2-5 mg out of a 10 mg ampoule), obstetric
  pethidine, outpatient dispensing of morphine tablets, patches and methadone to palliative and
  cancer patients (renewed every 15-30 days, ended after a geometric number of months).
* Shifts: public hospitals 12 h (07-19 / 19-07), private clinics three turns (07-13 / 13-19 /
  19-07); elective surgery 07:30-14:30 on weekdays (weekend 30 %), emergencies around the clock.
* Seasonality: surgery dips in February and the second half of December (holidays), ICU winter
  peak June-August (+35 %), trauma peaks around Fiestas Patrias (late July) and New Year; the
  northern coast (Piura, Tumbes, Lambayeque) has a rainy-season accident/ICU surge Feb-Apr
  (declared as a look-alike region).
* Community pharmacies / boticas: chronic patients (Pareto count per pharmacy) and acute post-op
  prescriptions (5-10 days); counts monthly, quarterly or only twice a year.
* Staff: nurses per hospital ~ beds/8 with Dirichlet-skewed workloads; 8 % of nurses are not
  certified, 10 % were certified during the year (they handle before their certification date).

Reporting quirks (rates chosen here, per establishment unless said otherwise)
--------------------------------------------------------------------------------
* Time formats: 55 % with ``-05:00``, 40 % without offset (Lima), one distributor in UTC
  (``+00:00``), a few with a space instead of ``T``.
* Opening count on the first day: 70 % of establishments; the others start the year with no
  count (their books start at zero while their shelves are full, until the first count).
* Count cadence: hospitals weekly 35 %, monthly 40 %, irregular (10-60 days) 25 %; pharmacies
  monthly 60 %, quarterly 25 %, twice a year 15 %.
* Counts stamped late: 25 % of hospitals count at the start of the shift and stamp the count at
  the shift end (12 h later); 20 % of pharmacies stamp the month-end count on the 1st, 09:00.
* Honest count discrepancies: 4 % of counts off by +-1 or 2 units.
* Pharmacy software counts (6 % of pharmacies): the count is their book balance, a negative book
  balance reported as zero.
* Late receipt registration: 15 % of establishments stamp receipts 2-9 days after arrival (their
  books go negative between).
* Unrecorded residue: 20 % of hospitals do not record residues under 0.3 ampoule (35 % of them).
* Waste rounding: 25 % of hospitals round residues up to the half ampoule; 10 % report quantities
  with a trailing ``.0``.
* Witness habits: 12 % of hospitals record the handler as witness in 60 % of wastes; everywhere,
  wastes between 23:00 and 06:00 lack a witness 25 % of the time.
* Shift batching: 8 % of hospitals report ICU administrations as one row per patient and shift
  stamped at the shift end.
* Missing optional fields: lot/expiry absent at 40 % of hospitals; patient sex / birth year absent
  20 % of rows; professional_id absent 3 %; prescriber on administer only at 60 % of hospitals.
* Pre-pseudonymised patients: EsSalud hospitals send ``PSN:`` tokens of their own.
* Duplicate re-sent files: 7 % of establishments re-send one whole month (same event_id, same
  content).
* Inter-hospital loans (same department): received 0-1 day later normally; 15 % received 3-10
  days late, 10 % split into two transfer_in, 10 % stamped before the transfer_out.
* Unit mix-ups: 0.4 % of pharmacy receipts recorded in packs instead of units.
* Breakage / expiry: hospital breakage 1-2 ampoules (~0.2 per hospital-month), pharmacy expiry
  waste a few times a year, all witnessed.
* Openings / closings: ~3 % of pharmacies open mid-year (first receipt), ~3 % close (return the
  stock to the distributor with a transfer_out, final count 0).
* Partial last month: 12 % of establishments have not sent their last 2-4 weeks.
* No deliberately rejected rows.

Changes after the first measurement (v2, disclosed in README.md; artefacts of this generator, not
reporting quirks): the year starts with the chronic patients already in treatment (v1 started
with none, so every panel grew from January); chronic prescriptions at community pharmacies come
from general / internal medicine, oncology and palliative care (v1 drew any specialty, including
surgeons and traumatologists); the prescription mill's quantities are per product (v1 could give
60-90 patches of 50 mcg/h for 30 days); clinic ids no longer collide with IPRESS codes; a
pharmacy that closes stops ordering 12 days before and its deliveries in transit are cancelled.

Planted (truth kind ``planted``, about 20) and look-alikes (``lookalike``, 10) are listed in
``PLANTED`` / ``LOOKALIKES`` below; every truth row has ``strength`` (strong / subtle) and a
``note``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "src" / "centinela" / "data" / "peru"
DAY = 86400
HOUR = 3600

# product_code: (name, substance, form, mg per unit, patch mcg/h, units per pack)
PRODUCTS = {
    "EE-04411": ("Fentanilo citrato 0.05 mg/mL x 2 mL solucion inyectable ampolla", "fentanyl",
                 "ampoule", 0.1, "", 50),
    "EE-04412": ("Fentanilo citrato 0.05 mg/mL x 10 mL solucion inyectable ampolla", "fentanyl",
                 "ampoule", 0.5, "", 25),
    "EE-07120": ("Fentanilo 4.2 mg parche transdermico 25 mcg/h", "fentanyl", "patch", 4.2, 25, 5),
    "EE-07121": ("Fentanilo 8.4 mg parche transdermico 50 mcg/h", "fentanyl", "patch", 8.4, 50, 5),
    "EE-05530": ("Remifentanilo 1 mg polvo liofilizado vial", "remifentanil", "vial", 1.0, "", 5),
    "EN-01210": ("Morfina clorhidrato 10 mg/mL solucion inyectable ampolla 1 mL", "morphine",
                 "ampoule", 10.0, "", 100),
    "EE-02231": ("Morfina sulfato 30 mg tableta de liberacion prolongada", "morphine", "tablet",
                 30.0, "", 30),
    "EN-01215": ("Morfina sulfato 10 mg tableta", "morphine", "tablet", 10.0, "", 50),
    "EE-03310": ("Metadona clorhidrato 10 mg tableta", "methadone", "tablet", 10.0, "", 20),
    "EN-00981": ("Petidina clorhidrato 100 mg/2 mL solucion inyectable ampolla", "pethidine",
                 "ampoule", 100.0, "", 25),
}
FEN, FEN5, P25, P50, REMI, MORA, MT30, MT10, METH, PETH = PRODUCTS
CHRONIC = (MT30, MT10, P25, P50, METH)
FOREIGN = ("JANSSEN-BE", "HAMELN-DE", "PISA-MX", "CRISTALIA-BR", "LABESFAL-PT")
MONTHS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

PLANTED = [
    "nurse_waste_excess", "nurse_waste_subtle", "prescriber_escalation",
    "surgeon_postop_overprescribing", "pharmacy_stock_buildup", "prescription_mill",
    "hospital_shrinkage", "clinic_repeated_losses", "distributor_theft", "doctor_shopping",
    "doctor_shopping_subtle", "transfer_never_received", "distributor_shipment_never_received",
    "regional_surge", "uncertified_dispenser", "seized_hospital_lot", "seized_pharmacy_serial",
    "unauthorized_botica", "expired_licence_keeps_trading", "pharmacy_expiry_waste_inflation",
]
LOOKALIKES = [
    "oncology_institute_orders", "palliative_high_mme", "breakage_incident",
    "rainy_season_north", "new_icu_opening", "witness_habit_hospital", "holiday_stockup_pharmacy",
    "cancer_patient_several_prescribers", "new_pharmacy_opening", "cardiac_anesthesiologist",
]


class Est:
    """One establishment: registry fields, staff, reporting habits and its true shelf."""

    def __init__(self, eid, name, kind, sector, ubigeo, beds=0.0):
        self.id, self.name, self.kind, self.sector, self.ubigeo = eid, name, kind, sector, ubigeo
        self.dept = ubigeo[:2]
        self.beds = beds
        self.authorized = True
        self.expires = ""
        self.ruc = ""
        self.nurses: list[str] = []
        self.nurse_w = np.ones(1)
        self.anesth: list[str] = []
        self.surgeons: list[str] = []
        self.onco: list[str] = []
        self.pharmacists: list[str] = []
        self.stock: dict[str, float] = defaultdict(float)
        self.lot: dict[str, tuple[str, str]] = {}
        self.pending: dict[int, list] = defaultdict(list)
        self.supplier = ""
        self.open_day, self.close_day, self.cutoff_day = 0, 10 ** 6, 10 ** 6
        self.q: dict = {}
        self.icu: list[list] = []  # [patient, days_left, product, rate_units_per_shift]
        self.chronic: list[list] = []  # [patient, product, qty, days, next_day, prescriber, end]
        self.use: dict[str, float] = defaultdict(float)  # expected units/day (for reordering)
        self.mult: dict[str, float] = defaultdict(lambda: 1.0)


class World:
    def __init__(self, seed: int, scale: float, start: dt.date):
        self.rng = np.random.default_rng(seed)
        self.seed, self.scale, self.start = seed, scale, start
        self.ndays = (dt.date(start.year + 1, start.month, start.day) - start).days
        self.daystr = [(start + dt.timedelta(days=d)).isoformat() for d in range(self.ndays + 60)]
        self.rows: list[list] = []
        self.ests: list[Est] = []
        self.by_id: dict[str, Est] = {}
        self.pros: list[tuple] = []
        self.cert: dict[str, str] = {}
        self.truth: list[dict] = []
        self.seizures: list[list] = []
        self.npat = 0
        self.nrx = 0
        self.lots: dict[str, list] = defaultdict(list)  # product -> [(day, lot, expiry)]
        self.shipments: list[tuple] = []  # (ship_day, dist, dest, product, qty, lot, expiry)
        self.hooks: dict[str, dict] = {}
        self.quirk_counts: dict[str, int] = defaultdict(int)
        self._load_places()

    # ----------------------------------------------------------------- places and registry
    def _load_places(self):
        self.districts: dict[str, tuple[str, int]] = {}
        with open(DATA / "ubigeo_inei_2025.csv", encoding="utf-8-sig") as fh:
            for r in csv.DictReader(fh, delimiter=";"):
                pop = int(float(r["población"] or 0))
                self.districts[r["ubigeo"].strip().zfill(6)] = (r["distrito"], pop)
        self.by_dept: dict[str, list[str]] = defaultdict(list)
        for code, (_, pop) in self.districts.items():
            if pop > 0:
                self.by_dept[code[:2]].append(code)
        self.hospitals_src = []
        with open(DATA / "hospitals_ipress_operational.csv", encoding="utf-8",
                  errors="replace") as fh:
            for r in csv.DictReader(fh):
                ub = r["UBIGEO"].strip().zfill(6)
                if ub not in self.districts:
                    continue
                beds = float(r["CAMAS"] or 0) or float(self.rng.lognormal(4.0, 0.6))
                self.hospitals_src.append((int(r["Codigo Unico"]), r["Nombre del establecimiento"]
                                           .strip(), r["Institucion"].strip(), ub, beds))

    def district(self, dept: str | None = None, urban: bool = True) -> str:
        pool = self.by_dept[dept] if dept else list(self.districts)
        pops = np.array([self.districts[c][1] for c in pool], float)
        w = pops ** (1.3 if urban else 1.0)
        return pool[int(self.rng.choice(len(pool), p=w / w.sum()))]

    def add_est(self, e: Est) -> Est:
        self.ests.append(e)
        self.by_id[e.id] = e
        r = self.rng
        e.q = {
            "tz": r.choice(["offset", "naive", "space"], p=[0.55, 0.40, 0.05]),
            "opening_count": r.random() < 0.70,
            "late_receipt": r.random() < 0.15,
            "dup_month": int(r.integers(0, 12)) if r.random() < 0.07 else -1,
            "trailing0": r.random() < 0.10,
            "lots": r.random() < 0.6 or e.kind in ("importer", "distributor"),
            "evid": r.choice(["seq", "date", "hex"]),
        }
        if r.random() < 0.12 and e.kind not in ("importer",):
            e.cutoff_day = self.ndays - int(r.integers(14, 29))
        return e

    def pro(self, prefix: str, role: str, specialty: str, est: Est | None, cert: str = "auto"):
        n = len(self.pros) + 1
        num = {"CMP": 10000 + n * 7 % 89000, "CEP": 20000 + n * 11 % 79000,
               "CQFP": 1000 + n * 13 % 29000, "COP": 3000 + n}[prefix]
        pid = f"{prefix}-{num:06d}" if prefix != "CQFP" else f"{prefix}-{num:05d}"
        while pid in self.cert:
            num += 1
            pid = f"{prefix}-{num:06d}" if prefix != "CQFP" else f"{prefix}-{num:05d}"
        r = self.rng
        if cert == "auto":
            u = r.random()
            if u < 0.08:
                cert = ""
            elif u < 0.18:
                cert = self.daystr[int(r.integers(20, 300))]
            else:
                cert = (dt.date(2019, 1, 1) + dt.timedelta(days=int(r.integers(0, 2000)))).isoformat()
        first = r.choice(["Ana", "Rosa", "Luz", "Carmen", "Julia", "Milagros", "Jorge", "Luis",
                          "Carlos", "Miguel", "Jose", "Pedro", "Maria", "Elena", "Diana", "Victor",
                          "Raul", "Sofia", "Patricia", "Cesar"])
        last = r.choice(["Quispe", "Huaman", "Mamani", "Flores", "Rojas", "Garcia", "Chavez",
                         "Vargas", "Torres", "Ramos", "Mendoza", "Castillo", "Salazar", "Ccori",
                         "Paredes", "Rios", "Diaz", "Cruz", "Soto", "Condori"])
        self.pros.append((pid, role, f"{first} {last} {r.choice(['Paz', 'Lima', 'Vera', 'Rey'])}",
                          specialty, est.id if est else "", est.ubigeo if est else "", cert,
                          f"CERT-OP-{n:05d}" if cert else ""))
        self.cert[pid] = cert
        return pid

    def staff(self, e: Est):
        r = self.rng
        b = e.beds
        nn = max(3, int(b / 8 * r.uniform(0.7, 1.3)))
        e.nurses = [self.pro("CEP", "nurse", "nursing", e) for _ in range(nn)]
        e.nurse_w = r.dirichlet(np.full(nn, 1.5))
        e.anesth = [self.pro("CMP", "prescriber", "anesthesiology", e)
                    for _ in range(max(1, int(b / 40)))]
        e.surgeons = [self.pro("CMP", "prescriber", r.choice(["surgery", "traumatology",
                                                              "gynecology"]), e)
                      for _ in range(max(1, int(b / 30)))]
        e.onco = [self.pro("CMP", "prescriber", r.choice(["oncology", "palliative_care",
                                                          "internal_medicine"]), e)
                  for _ in range(max(1, int(b / 120)))]
        e.pharmacists = [self.pro("CQFP", "pharmacist", "", e) for _ in range(max(1, int(b / 150)) + 1)]

    def build(self):
        r, s = self.rng, self.scale
        # importers and distributors
        self.importers = [self.add_est(Est(f"DRG-IMP-{i:04d}", n, "importer", "private", u)) for i, (n, u) in
                          enumerate([("Droguería Importadora Andina SAC", "150131"),
                                     ("Medifarma Importaciones SAA", "070101"),
                                     ("Pacific Pharma Import EIRL", "150122")][:max(2, round(3 * min(1, s * 2)))], 1)]
        dist_places = [("Distribuidora Farmacéutica Lima Norte", "150135"), ("DroFar del Sur SAC", "040101"),
                       ("Distribuidora La Libertad SRL", "130101"), ("Droguería Chiclayo SAC", "140101"),
                       ("Distribuidora Piura Medic SAC", "200101"), ("Droguería Cusco Andes", "080101"),
                       ("Distribuidora Amazónica Iquitos", "160101"), ("Droguería Centro Huancayo", "120101"),
                       ("Droguería Lima Sur SAC", "150143")]
        nd = max(4, round(9 * min(1.0, 0.4 + s)))
        self.dists = [self.add_est(Est(f"DRG-DIS-{i:04d}", n, "distributor", "private", u))
                      for i, (n, u) in enumerate(dist_places[:nd], 1)]
        self.dists[0].q["tz"] = "utc"  # one distributor's system writes UTC
        for d in self.dists + self.importers:
            d.ruc = f"20{int(r.integers(100000000, 999999999))}"
            d.cutoff_day = 10 ** 6
            d.pharmacists = [self.pro("CQFP", "pharmacist", "", d) for _ in range(2)]
        # hospitals from IPRESS
        src = sorted(self.hospitals_src, key=lambda x: -x[4])
        nh = max(12, round(len(src) * s))
        keep = src[:max(3, nh // 10)]
        rest = src[len(keep):]
        idx = r.choice(len(rest), size=min(len(rest), nh - len(keep)), replace=False)
        keep += [rest[i] for i in sorted(idx)]
        self.hospitals = []
        for code, name, inst, ub, beds in keep:
            e = self.add_est(Est(f"RENIPRESS-{code:08d}", name.title(), "hospital", "public", ub, beds))
            e.q["essalud"] = inst == "ESSALUD"
            self.hospitals.append(e)
        # the oncology institute (look-alike) is always there
        inen = self.add_est(Est("RENIPRESS-00006148", "Instituto Nacional De Enfermedades Neoplasicas",
                                "hospital", "public", "150141", 450.0))
        inen.q["essalud"] = False
        self.hospitals.append(inen)
        self.inen = inen
        # private clinics
        self.clinics = []
        for i in range(max(5, round(110 * s))):
            dept = r.choice(["15", "15", "15", "15", "04", "13", "14", "20", "08", "12", "07", "11"])
            beds = float(np.clip(r.lognormal(3.3, 0.7), 8, 250))
            e = self.add_est(Est(f"RENIPRESS-{40000 + i * 37:08d}", f"Clínica {r.choice(['San', 'Santa'])} "
                                 f"{r.choice(['Gabriel', 'Lucia', 'Isabel', 'Pablo', 'Felipe', 'Rosa', 'Martin'])} "
                                 f"{i}", "clinic", "private", self.district(dept), beds))
            e.q["essalud"] = False
            self.clinics.append(e)
        for e in self.hospitals + self.clinics:
            self.staff(e)
            e.supplier = self.nearest_dist(e).id
            e.q.update({
                "cadence": r.choice(["week", "month", "irregular"], p=[0.35, 0.40, 0.25]),
                "count_late": r.random() < 0.25, "unrec_res": r.random() < 0.20,
                "round_half": r.random() < 0.25, "self_witness": r.random() < 0.12,
                "batch_icu": r.random() < 0.08, "prescriber_on_admin": r.random() < 0.6,
                "big_amp": r.random() < 0.3,
            })
            e.q["shift"] = "12h" if e.sector == "public" else "3t"
        # community prescribers
        specs = [r.choice(["general_medicine", "general_medicine", "oncology", "palliative_care",
                           "surgery", "traumatology", "internal_medicine"])
                 for _ in range(max(20, round(260 * s)))]
        self.community = [self.pro("CMP", "prescriber", sp, None) for sp in specs]
        self.comm_w = r.pareto(1.5, len(self.community)) + 0.2
        # v2: chronic (cancer / palliative / chronic pain) prescriptions come from oncology,
        # palliative care, general and internal medicine; acute ones from any of them
        chronic_ok = np.array([sp in ("general_medicine", "oncology", "palliative_care",
                                      "internal_medicine") for sp in specs])
        self.comm_chronic_w = np.where(chronic_ok, self.comm_w, 0.0)
        # pharmacies and boticas
        self.pharmacies = []
        for i in range(max(15, round(420 * s))):
            dept = r.choice(list(self.by_dept), p=self._dept_weights())
            kind = "pharmacy" if r.random() < 0.6 else "drugstore"
            code = f"DIGEMID-{'F' if kind == 'pharmacy' else 'B'}{1000000 + i * 97:07d}"
            e = self.add_est(Est(code, f"{'Farmacia' if kind == 'pharmacy' else 'Botica'} "
                                 f"{r.choice(['Santa Rosa', 'El Carmen', 'Inkafarma', 'Mifarma', 'Del Pueblo', 'San Juan', 'Vida'])} {i}",
                                 kind, "private", self.district(dept), 0.0))
            e.ruc = f"10{int(r.integers(100000000, 999999999))}" if r.random() < 0.8 else ""
            e.pharmacists = [self.pro("CQFP", "pharmacist", "", e) for _ in range(int(r.integers(1, 4)))]
            e.supplier = self.nearest_dist(e).id
            e.q.update({"cadence": r.choice(["month", "quarter", "half"], p=[0.6, 0.25, 0.15]),
                        "count_first": r.random() < 0.20, "book_count": r.random() < 0.06,
                        "size": float(min(30.0, r.pareto(1.3) + 0.3))})
            u = r.random()
            if u < 0.03:
                e.open_day = int(r.integers(60, 250))
            elif u < 0.06:
                e.close_day = int(r.integers(120, 330))
            self.pharmacies.append(e)
        for e in self.hospitals + self.clinics:
            e.authorized = True
        self.products_lots()

    def _dept_weights(self):
        keys = list(self.by_dept)
        w = np.array([sum(self.districts[c][1] for c in self.by_dept[k]) for k in keys], float)
        return w / w.sum()

    def nearest_dist(self, e: Est) -> Est:
        same = [d for d in self.dists if d.dept == e.dept]
        if same:
            return same[int(self.rng.integers(len(same)))]
        return self.dists[0] if self.rng.random() < 0.6 else self.dists[int(self.rng.integers(len(self.dists)))]

    def products_lots(self):
        r = self.rng
        for p in PRODUCTS:
            day = -int(r.integers(30, 200))
            while day < self.ndays:
                lot = f"{p[-3:]}{chr(65 + int(r.integers(0, 26)))}{int(r.integers(1000, 9999))}"
                exp = (self.start + dt.timedelta(days=day + int(r.integers(500, 1000)))).isoformat()
                self.lots[p].append((day, lot, exp))
                day += int(r.integers(60, 150))

    def lot_at(self, p: str, day: int) -> tuple[str, str]:
        cur = self.lots[p][0]
        for x in self.lots[p]:
            if x[0] <= day:
                cur = x
        return cur[1], cur[2]

    # ----------------------------------------------------------------- rows
    def patient(self, e: Est | None = None, hosp: bool = False):
        self.npat += 1
        k = self.npat + 7919 * self.seed
        r = self.rng
        if e is not None and e.q.get("essalud"):
            pid = f"PSN:ES{(k * 2654435761) % 16 ** 14:014x}"
        elif r.random() < 0.04:
            pid = f"CE:{(k * 48271) % 10 ** 9:09d}"
        elif r.random() < 0.01:
            pid = f"PAS:{chr(65 + k % 26)}{(k * 69621) % 10 ** 7:07d}"
        else:
            pid = f"DNI:{10_000_000 + (k * 2654435761) % 80_000_000:08d}"
        sex = r.choice(["F", "M"])
        by = int(np.clip(r.normal(1965 if not hosp else 1972, 17), 1925, 2024))
        ub = e.ubigeo if e is not None and r.random() < 0.7 else ""
        return (pid, sex, by, ub)

    def mv(self, etype, t, e: Est, p, qty, cp="", lot="", exp="", serial="", rx="", prescriber="",
           prof="", pat=None, days="", witness=""):
        if pat is not None:
            pid, sex, by, ub = pat
            if self.rng.random() < 0.2:
                sex, by = "", ""
        else:
            pid, sex, by, ub = "", "", "", ""
        if prof and self.rng.random() < 0.03:
            prof = ""
        if not e.q.get("lots") and etype not in ("import",):
            lot, exp = "", ""
        row = [None, etype, int(t), e.id, p, qty, cp, lot, exp, serial, rx, prescriber, prof, pid,
               sex, by, ub, days, witness]
        self.rows.append(row)
        return row

    def rx(self):
        self.nrx += 1
        return f"RE-{2025}-{(self.nrx * 7 + self.seed) % 10 ** 7:07d}"

    # ----------------------------------------------------------------- seasonality
    def season(self, day: int, dept: str, what: str) -> float:
        d = self.start + dt.timedelta(days=day)
        m, dd = d.month, d.day
        f = 1.0
        if what == "surgery":
            if m == 2:
                f *= 0.8
            if m == 12 and dd > 18:
                f *= 0.7
            if (m == 7 and dd >= 24) or (m == 1 and dd <= 3) or (m == 12 and dd >= 24):
                f *= 1.25  # trauma
        if what == "icu":
            if m in (6, 7, 8):
                f *= 1.35
        if dept in ("20", "24", "14") and (what in ("icu", "surgery")) and (dd >= 10 if m == 2 else True) \
                and (m in (2, 3) or (m == 4 and dd <= 15)):
            f *= 1.6
        return f

    def shift_of(self, e: Est, t: int) -> tuple[int, int]:
        """Start and end (seconds) of the shift containing t."""
        day, s = divmod(t, DAY)
        base = day * DAY
        if e.q.get("shift") == "12h":
            if 7 * HOUR <= s < 19 * HOUR:
                return base + 7 * HOUR, base + 19 * HOUR
            if s >= 19 * HOUR:
                return base + 19 * HOUR, base + DAY + 7 * HOUR
            return base - 5 * HOUR, base + 7 * HOUR
        for a, b in ((7, 13), (13, 19)):
            if a * HOUR <= s < b * HOUR:
                return base + a * HOUR, base + b * HOUR
        if s >= 19 * HOUR:
            return base + 19 * HOUR, base + DAY + 7 * HOUR
        return base - 5 * HOUR, base + 7 * HOUR

    def nurse(self, e: Est, t: int) -> str:
        return e.nurses[int(self.rng.choice(len(e.nurses), p=e.nurse_w))]

    def witness(self, e: Est, t: int, handler: str) -> str:
        r = self.rng
        s = t % DAY
        if (s >= 23 * HOUR or s < 6 * HOUR) and r.random() < 0.25:
            return ""
        if e.q.get("self_witness") and r.random() < 0.6:
            return handler
        pool = e.nurses + e.pharmacists
        w = pool[int(r.integers(len(pool)))]
        return w if w != handler else pool[(pool.index(w) + 1) % len(pool)]

    def frac(self, e: Est, x: float) -> float:
        return round(x, 2)

    # ----------------------------------------------------------------- hospitals
    def hospital_day(self, e: Est, day: int):
        r = self.rng
        acts: list[tuple] = []  # (t, kind, payload)
        base = day * DAY
        b = e.beds * e.mult["beds"] if day >= e.q.get("beds_from", 0) else e.beds
        wk = (self.start + dt.timedelta(days=day)).weekday()
        surg_rate = 0.018 * b * self.season(day, e.dept, "surgery") * (1.0 if wk < 5 else 0.3)
        if e.kind == "clinic":
            surg_rate *= 1.3
        for _ in range(r.poisson(surg_rate)):
            if r.random() < 0.7 and wk < 5:
                t = base + int(r.uniform(7.5, 14.5) * HOUR)
            else:
                t = base + int(r.uniform(0, 24) * HOUR)
            acts.append((t, "surgery", None))
        for _ in range(r.poisson(0.0075 * b * self.season(day, e.dept, "surgery"))):
            acts.append((base + int(r.uniform(0, 24) * HOUR), "ward", None))
        if e.beds >= 60 or e.kind == "clinic":
            for _ in range(r.poisson(0.0033 * b)):
                acts.append((base + int(r.uniform(0, 24) * HOUR), "obst", None))
        # ICU: admissions and infusions
        icu_beds = b * (0.035 if e.beds >= 100 else 0.012) * e.mult["icu"]
        if day >= e.q.get("icu_from", 10 ** 6):
            icu_beds += e.q["icu_extra"]
        target = icu_beds * 0.75 * self.season(day, e.dept, "icu") * 0.45
        adm = r.poisson(max(0.0, target / 4.5))
        for _ in range(adm):
            big = e.q.get("big_amp")
            prod = FEN5 if big else FEN
            rate = r.uniform(0.6, 1.8) / (0.5 if big else 0.1)  # units per 12 h shift
            e.icu.append([self.patient(e, True), int(r.geometric(1 / 4.5)), prod, rate])
        shifts = [7 * HOUR, 19 * HOUR] if e.q["shift"] == "12h" else [7 * HOUR, 13 * HOUR, 19 * HOUR]
        keep = []
        for pt in e.icu:
            for k, s0 in enumerate(shifts):
                s1 = shifts[k + 1] if k + 1 < len(shifts) else 31 * HOUR
                acts.append((base + s0 + int(r.uniform(0.2, 1.5) * HOUR), "icu",
                             (pt, (s1 - s0) / (12 * HOUR), base + s1)))
            pt[1] -= 1
            if pt[1] <= 0:
                acts.append((base + int(r.uniform(9, 17) * HOUR), "icu_end", pt))
            else:
                keep.append(pt)
        e.icu = keep
        # outpatient chronic dispensing (palliative / oncology clinic of the hospital)
        if e.beds >= 80:
            for _ in range(r.poisson(e.beds * 0.0009 * e.mult["chronic"])):
                e.chronic.append(self.new_chronic(e, day, e.onco))
        self.chronic_due(e, day, acts, hours=(8, 16))
        # breakage
        if r.random() < 0.2 / 30:
            acts.append((base + int(r.uniform(7, 22) * HOUR), "break", None))
        self.hook(e, day, acts)
        self.run_acts(e, day, acts)

    def new_chronic(self, e, day, prescribers, patient=None, prod=None, weights=None):
        r = self.rng
        prod = prod or r.choice(CHRONIC, p=[0.35, 0.2, 0.2, 0.15, 0.1])
        if prod in (P25, P50):
            qty, days = int(r.choice([5, 10, 10, 15])), 15 if r.random() < 0.3 else 30
            qty = qty if days == 30 else 5
        elif prod == METH:
            qty, days = int(r.choice([30, 60, 90])), 30
        else:
            qty, days = int(r.choice([30, 60, 60, 90, 120])), 30
            if r.random() < 0.3:
                qty, days = qty // 2, 15
        if weights is None:
            pres = prescribers[int(r.integers(len(prescribers)))]
        else:
            pres = prescribers[int(r.choice(len(prescribers), p=weights))]
        months = int(r.geometric(1 / 4.0))
        return [patient or self.patient(e), prod, qty, days, day, pres, day + months * 31]

    def chronic_due(self, e, day, acts, hours=(9, 20)):
        r = self.rng
        keep = []
        for c in e.chronic:
            if c[6] < day:
                continue
            keep.append(c)
            if c[4] <= day:
                t = day * DAY + int(r.uniform(*hours) * HOUR)
                acts.append((t, "dispense", list(c)))
                c[4] = day + c[3] + int(r.integers(-3, 4))
        e.chronic = keep

    def run_acts(self, e: Est, day: int, acts: list):
        r = self.rng
        base = day * DAY
        for t, p, qty, cp, lot, exp in e.pending.pop(day, []):
            acts.append((t, "receipt", (p, qty, cp, lot, exp)))
        if self.is_count_day(e, day):
            acts.append((base + (7 * HOUR if e.kind != "pharmacy" and e.kind != "drugstore"
                                 else int(r.uniform(20, 22) * HOUR)) + int(r.integers(0, 1800)),
                         "count", None))
        acts.sort(key=lambda a: a[0])
        for t, kind, pay in acts:
            getattr(self, "act_" + kind)(e, t, pay)
        self.reorder(e, day)
        e.q["recv"] = {}

    def is_count_day(self, e: Est, day: int) -> bool:
        if day == 0:
            return e.q["opening_count"]
        d = self.start + dt.timedelta(days=day)
        c = e.q.get("cadence")
        nxt = d + dt.timedelta(days=1)
        if c == "week":
            return d.weekday() == e.q.setdefault("cwd", int(self.rng.integers(0, 7)))
        if c == "month":
            return nxt.day == 1
        if c == "quarter":
            return nxt.day == 1 and nxt.month in (1, 4, 7, 10)
        if c == "half":
            return nxt.day == 1 and nxt.month in (1, 7)
        if c == "irregular":
            due = e.q.setdefault("cnext", int(self.rng.integers(10, 60)))
            if day >= due:
                e.q["cnext"] = day + int(self.rng.integers(10, 60))
                return True
        return False

    def take(self, e: Est, p: str, q: float):
        e.stock[p] -= q
        e.use[p] = e.use[p] * 0.98 + 0.02 * 0  # decays; usage added per day in reorder

    def lotof(self, e, p):
        return e.lot.get(p, ("", ""))

    def act_surgery(self, e: Est, t: int, _):
        r = self.rng
        anest = e.anesth[int(r.integers(len(e.anesth)))]
        h = self.hooks.get("cardiac")
        if h and h["est"] is e and r.random() < h["share"]:
            anest = h["pro"]
        pat = self.patient(e, True)
        nurse = self.nurse(e, t)
        presc = anest if e.q["prescriber_on_admin"] else ""
        if h and anest == h.get("pro"):
            # cardiac surgery: high-dose fentanyl from 0.5 mg ampoules
            opened = int(r.integers(3, 8))
            given = opened - r.choice([0, 0.2, 0.4, 0.5])
            self.administer(e, t, FEN5, opened, given, nurse, pat, presc)
            return
        if e.beds >= 200 and r.random() < 0.15:
            given = round(float(r.uniform(0.4, 1.0)), 2)
            self.administer(e, t, REMI, 1, given, nurse, pat, presc)
        dose = float(r.choice([0.75, 1.0, 1.0, 1.25, 1.5, 1.5, 2.0, 2.0, 2.5, 3.0]))
        self.administer(e, t, FEN, math.ceil(dose - 1e-9), dose, nurse, pat, presc)

    def administer(self, e, t, p, opened, given, nurse, pat, presc, waste_at=None):
        r = self.rng
        nh = self.hooks.get("nurse_waste")
        extra = 0.0
        skim = 0.0
        if nh and nurse in nh and nh[nurse]["from"] <= t < nh[nurse]["to"]:
            h = nh[nurse]
            if r.random() < h["p"]:
                if h.get("mode") == "skim":
                    skim = min(h["extra"](), given - 0.05)
                    given -= skim  # recorded dose lowered, the skimmed part recorded as waste
                else:
                    extra = h["extra"]()
        lot, exp = self.lotof(e, p)
        qfmt = self.qfmt(e, given)
        self.mv("administer", t + int(r.integers(60, 600)), e, p, qfmt, lot=lot, exp=exp,
                prescriber=presc, prof=nurse, pat=pat)
        residue = opened - given
        e.stock[p] -= opened + (math.ceil(extra) if extra else 0)
        if skim:
            extra = skim
            residue -= skim
            opened_extra = 0
        else:
            opened_extra = math.ceil(extra) if extra else 0
        # a diverting nurse takes `extra` more (recorded as waste), opened from stock
        rec_res = residue + extra
        if rec_res > 1e-9:
            if e.q.get("unrec_res") and residue < 0.3 and not extra and r.random() < 0.35:
                return
            if e.q.get("round_half") and not extra:
                rec_res = min(math.ceil(rec_res * 2) / 2, opened)
            wt = (waste_at or t) + int(r.integers(300, 2400))
            wit = self.witness(e, wt, nurse)
            if extra and nh[nurse].get("self_witness") and r.random() < nh[nurse]["self_witness"]:
                wit = nurse if r.random() < 0.5 else ""
            if opened_extra > extra:
                rec_res += opened_extra - extra  # the rest of the extra ampoule is wasted too
            self.mv("waste", wt, e, p, self.qfmt(e, round(rec_res, 2)), lot=lot, exp=exp, prof=nurse,
                    witness=wit)

    def qfmt(self, e, x):
        x = round(float(x), 2)
        if abs(x - round(x)) < 1e-9:
            return f"{int(round(x))}.0" if e.q.get("trailing0") else str(int(round(x)))
        return f"{x:g}"

    def act_ward(self, e, t, _):
        r = self.rng
        pat = self.patient(e, True)
        presc = e.surgeons[int(r.integers(len(e.surgeons)))] if e.q["prescriber_on_admin"] else ""
        for k in range(int(r.integers(1, 4))):
            tt = t + k * int(r.uniform(4, 7) * HOUR)
            given = float(r.choice([0.2, 0.3, 0.3, 0.4, 0.5]))
            self.administer(e, tt, MORA, 1, given, self.nurse(e, tt), pat, presc)

    def act_obst(self, e, t, _):
        r = self.rng
        pat = self.patient(e, True)
        pat = (pat[0], "F", int(r.integers(1985, 2007)), pat[3])
        given = float(r.choice([0.5, 0.5, 1.0]))
        self.administer(e, t, PETH, 1, given, self.nurse(e, t), pat, "")

    def act_icu(self, e, t, pay):
        pt, frac, shift_end = pay
        r = self.rng
        pat, _, prod, rate = pt
        q = round(rate * frac * r.uniform(0.8, 1.2), 1)
        nurse = self.nurse(e, t)
        lot, exp = self.lotof(e, prod)
        stamp = shift_end - int(r.integers(0, 1200)) if e.q.get("batch_icu") else t
        if e.q.get("batch_icu"):
            self.quirk_counts["batched_icu_rows"] += 1
        self.mv("administer", stamp, e, prod, self.qfmt(e, q), lot=lot, exp=exp, prof=nurse, pat=pat)
        e.stock[prod] -= q
        pt_res = getattr(self, "_icu_res", {})
        pt_res[id(pt)] = (pt_res.get(id(pt), (0.0,))[0] + q, nurse)
        self._icu_res = pt_res

    def act_icu_end(self, e, t, pt):
        res = getattr(self, "_icu_res", {}).pop(id(pt), None)
        if not res:
            return
        used, nurse = res
        prod = pt[2]
        residue = math.ceil(used) - used
        e.stock[prod] -= residue
        if residue > 0.05:
            lot, exp = self.lotof(e, prod)
            self.mv("waste", t, e, prod, self.qfmt(e, round(residue, 2)), lot=lot, exp=exp,
                    prof=nurse, witness=self.witness(e, t, nurse))

    def act_dispense(self, e, t, c):
        pat, prod, qty, days, _, pres, _ = c
        r = self.rng
        lot, exp = self.lotof(e, prod)
        ph = e.pharmacists[int(r.integers(len(e.pharmacists)))]
        h = self.hooks.get("uncertified")
        if h and h["est"] is e and r.random() < 0.85:
            ph = h["pro"]
        serial = ""
        if e.q.get("serial") and prod in (P25, P50):
            for _ in range(qty):
                e.q["nser"] = e.q.get("nser", 0) + 1
                serial = f"{lot}S{e.q['nser']:06d}"
                row = self.mv("dispense", t, e, prod, "1", lot=lot, exp=exp, serial=serial,
                              rx=c[7] if len(c) > 7 else self._rxfor(c), prescriber=pres, prof=ph,
                              pat=pat, days=days)
                self.serials_out.append((t, e, serial, lot, prod, row))
            e.stock[prod] -= qty
            return
        self.mv("dispense", t, e, prod, self.qfmt(e, qty), lot=lot, exp=exp, rx=self.rx(),
                prescriber=pres, prof=ph, pat=pat, days=days)
        e.stock[prod] -= qty

    def _rxfor(self, c):
        rx = self.rx()
        c.append(rx)
        return rx

    def act_break(self, e, t, _):
        r = self.rng
        p = FEN if r.random() < 0.7 else MORA
        n = int(r.integers(1, 3))
        e.stock[p] -= n
        nurse = self.nurse(e, t)
        lot, exp = self.lotof(e, p)
        self.mv("waste", t, e, p, self.qfmt(e, n), lot=lot, exp=exp, prof=nurse,
                witness=self.witness(e, t, nurse))

    def act_receipt(self, e, t, pay):
        p, qty, cp, lot, exp = pay
        e.stock[p] += qty
        rv = e.q.setdefault("recv", {})
        rv[p] = rv.get(p, 0.0) + qty
        e.lot[p] = (lot, exp)
        stamp = t
        if e.q.get("late_receipt"):
            stamp = min(t + int(self.rng.integers(2, 10)) * DAY, self.ndays * DAY - 120)
        rep = qty
        pack = PRODUCTS[p][5]
        if e.kind in ("pharmacy", "drugstore") and qty % pack == 0 and self.rng.random() < 0.004:
            rep = qty // pack  # packs instead of units
            self.quirk_counts["unit_mixup"] += 1
        self.mv("receipt", stamp, e, p, self.qfmt(e, rep), cp=cp, lot=lot, exp=exp,
                prof=e.pharmacists[0] if e.pharmacists else "")

    def act_count(self, e, t, _):
        r = self.rng
        stamp = t
        if e.q.get("count_late"):
            stamp = t + 12 * HOUR
        if e.q.get("count_first"):
            day = t // DAY + 1
            stamp = day * DAY + 9 * HOUR
        h = self.hooks.get("fake_counts")
        for p in list(e.stock):
            if e.stock[p] <= 0 and not e.use.get(p):
                continue
            v = max(0.0, math.floor(e.stock[p] + 1e-6))
            if r.random() < 0.04:
                v = max(0.0, v + float(r.choice([-2, -1, 1, 2])))
            kind = "count"
            row = self.mv(kind, stamp, e, p, self.qfmt(e, v), prof=e.pharmacists[0] if e.pharmacists else "")
            if e.q.get("book_count") or (h and h["est"] is e and t >= h["from"]):
                row.append("BOOK")  # replaced later by the book balance (clamped at zero)

    # ----------------------------------------------------------------- reordering
    def reorder(self, e: Est, day: int):
        r = self.rng
        if e.q.get("closed") or 0 <= e.close_day - day <= 12:
            return
        for p, u0 in list(e.use.items()):
            if u0 <= 0:
                continue
            prev = e.q.setdefault("prev", {})
            ew = e.q.setdefault("ewma", {})
            cons = prev.get(p, e.stock[p]) + e.q.get("recv", {}).get(p, 0.0) - e.stock[p]
            ew[p] = 0.93 * ew.get(p, u0) + 0.07 * max(cons, 0.0)
            u = max(u0 * 0.3, ew[p]) if day > 30 else max(u0, ew[p])
            prev[p] = e.stock[p]
            pending = sum(x[2] for xs in e.pending.values() for x in xs if x[1] == p)
            mult = e.mult.get("order_" + p, e.mult.get("order", 1.0))
            hol = self.hooks.get("holiday")
            if hol and hol["est"] is e and any(a <= day < b for a, b in hol["windows"]):
                mult *= 3
            rop = u * 12
            if e.stock[p] + pending < rop * min(mult, 1.5):
                want = u * 35 * mult - e.stock[p] - pending
                pack = PRODUCTS[p][5]
                qty = int(max(1, math.ceil(want / pack)) * pack)
                lag = int(r.integers(1, 6)) if e.stock[p] > rop / 3 else 1
                if day + lag >= self.ndays:
                    continue
                lot, exp = self.lot_at(p, day)
                t = (day + lag) * DAY + int(r.uniform(8, 17) * HOUR)
                e.pending[day + lag].append((t, p, qty, e.supplier, lot, exp))
                self.shipments.append((day + lag, e.supplier, e.id, p, qty, lot, exp))

    # ----------------------------------------------------------------- pharmacies
    def pharmacy_day(self, e: Est, day: int):
        r = self.rng
        if day < e.open_day or e.q.get("closed"):
            return
        if day == e.close_day:
            self.close_pharmacy(e, day)
            return
        acts: list[tuple] = []
        base = day * DAY
        if day == e.open_day and day > 0:
            for p in (MT30, MT10, P25):
                lot, exp = self.lot_at(p, day)
                qty = PRODUCTS[p][5] * int(r.integers(2, 5))
                acts.append((base + 10 * HOUR, "receipt", (p, qty, e.supplier, lot, exp)))
                self.shipments.append((day, e.supplier, e.id, p, qty, lot, exp))
        wk = (self.start + dt.timedelta(days=day)).weekday()
        size = e.q["size"]
        if r.random() < 0.04 * size * e.mult["chronic"] and wk < 6:
            w = self.comm_chronic_w / self.comm_chronic_w.sum()
            e.chronic.append(self.new_chronic(e, day, self.community, weights=w))
        for _ in range(r.poisson(0.12 * size * (0.5 if wk == 6 else 1))):
            pres = self.community[int(r.choice(len(self.community), p=self.comm_w / self.comm_w.sum()))]
            acts.append((base + int(r.uniform(9, 21) * HOUR), "dispense",
                         [self.patient(e), MT10 if r.random() < 0.7 else MT30,
                          int(r.choice([6, 10, 10, 14, 20])), int(r.choice([3, 5, 5, 7])), day, pres, day]))
        self.chronic_due(e, day, acts)
        if r.random() < 0.3 / 30:
            acts.append((base + int(r.uniform(9, 20) * HOUR), "expiry", None))
        self.hook(e, day, acts)
        self.run_acts(e, day, acts)

    def act_expiry(self, e, t, _):
        r = self.rng
        held = [p for p in e.stock if e.stock[p] >= 2]
        if not held:
            return
        p = held[int(r.integers(len(held)))]
        n = int(min(e.stock[p], r.integers(1, 6)))
        e.stock[p] -= n
        ph = e.pharmacists[0]
        wit = e.pharmacists[-1] if len(e.pharmacists) > 1 else ""
        lot, exp = self.lotof(e, p)
        self.mv("waste", t, e, p, self.qfmt(e, n), lot=lot, exp=exp, prof=ph, witness=wit)

    def close_pharmacy(self, e, day):
        t = day * DAY + 11 * HOUR
        for p, q in list(e.stock.items()):
            q = math.floor(q)
            if q > 0:
                lot, exp = self.lotof(e, p)
                self.mv("transfer_out", t, e, p, self.qfmt(e, q), cp=e.supplier, lot=lot, exp=exp,
                        prof=e.pharmacists[0])
                d = self.by_id[e.supplier]
                self.returns.append((day + 1, d, e.id, p, q, lot, exp))
                e.stock[p] -= q
        for p in list(e.stock):
            self.mv("count", t + 3600, e, p, "0", prof=e.pharmacists[0])
        e.q["closed"] = True
        e.chronic = []
        for d_, items in list(e.pending.items()):  # v2: deliveries in transit are cancelled
            for (_, p, qty, sup, lot, exp) in items:
                x = (d_, sup, e.id, p, qty, lot, exp)
                if x in self.shipments:
                    self.shipments.remove(x)
        e.pending.clear()

    # ----------------------------------------------------------------- loans between hospitals
    def loans(self, day):
        r = self.rng
        pub = [h for h in self.hospitals if h.beds >= 60]
        for a in pub:
            if r.random() < 1 / 60:
                peers = [b for b in pub if b.dept == a.dept and b is not a]
                if not peers:
                    continue
                b = peers[int(r.integers(len(peers)))]
                p = FEN if r.random() < 0.7 else MORA
                qty = int(r.choice([20, 50, 100]))
                if a.stock[p] < qty * 2:
                    continue
                self.loan(a, b, p, qty, day)

    def loan(self, a, b, p, qty, day, received=True):
        r = self.rng
        t = day * DAY + int(r.uniform(9, 18) * HOUR)
        lot, exp = self.lotof(a, p)
        row = self.mv("transfer_out", t, a, p, self.qfmt(a, qty), cp=b.id, lot=lot, exp=exp,
                      prof=a.pharmacists[0])
        a.stock[p] -= qty
        if not received:
            return row
        u = r.random()
        tin = t + int(r.uniform(0.5, 20) * HOUR)
        if u < 0.15:
            tin = t + int(r.integers(3, 11)) * DAY
            self.quirk_counts["transfer_late"] += 1
        elif u < 0.25:
            tin = t - int(r.uniform(1, 30) * HOUR)
            self.quirk_counts["transfer_in_before_out"] += 1
        parts = [qty]
        if 0.25 <= u < 0.35 and qty >= 20:
            parts = [qty // 2, qty - qty // 2]
            self.quirk_counts["transfer_split"] += 1
        for k, q in enumerate(parts):
            self.mv("transfer_in", tin + k * DAY * int(r.integers(1, 4)), b, p, self.qfmt(b, q),
                    cp=a.id, lot=lot, exp=exp, prof=b.pharmacists[0])
        b.stock[p] += qty
        rv = b.q.setdefault("recv", {})
        rv[p] = rv.get(p, 0.0) + qty
        return row

    # ----------------------------------------------------------------- upstream
    def upstream(self):
        r = self.rng
        by_dist: dict[str, list] = defaultdict(list)
        for s in self.shipments:
            by_dist[s[1]].append(s)
        imp_orders: dict[str, list] = defaultdict(list)
        for d in self.dists:
            ships = sorted(by_dist.get(d.id, []), key=lambda x: x[0])
            rets = sorted([x for x in self.returns if x[1] is d], key=lambda x: x[0])
            demand: dict[str, float] = defaultdict(float)
            for s in ships:
                demand[s[3]] += s[4] / self.ndays
            imp = self.importers[int(r.integers(len(self.importers)))]
            for p, u in demand.items():
                d.stock[p] = u * 60
            if d.q["opening_count"]:
                for p in demand:
                    self.mv("count", 8 * HOUR, d, p, self.qfmt(d, math.floor(d.stock[p])),
                            prof=d.pharmacists[0])
            i = 0
            j = 0
            for day in range(self.ndays):
                while j < len(rets) and rets[j][0] <= day:
                    _, _, src, p, q, lot, exp = rets[j]
                    self.mv("transfer_in", day * DAY + 10 * HOUR, d, p, self.qfmt(d, q), cp=src,
                            lot=lot, exp=exp, prof=d.pharmacists[0])
                    d.stock[p] += q
                    j += 1
                while i < len(ships) and ships[i][0] <= day:
                    arr, _, dest, p, q, lot, exp = ships[i][:7]
                    ghost = len(ships[i]) > 7
                    i += 1
                    transit = int(r.integers(0, 3)) if self.by_id[dest].dept == d.dept else int(r.integers(1, 4))
                    t = (arr - transit) * DAY + int(r.uniform(6, 15) * HOUR)
                    row = self.mv("transfer_out", max(t, 0), d, p, self.qfmt(d, q), cp=dest, lot=lot,
                                  exp=exp, prof=d.pharmacists[int(r.integers(2))])
                    if ghost:
                        self.pending_truth.append((
                            "planted", "distributor_shipment_never_received", row, arr, "strong",
                            "100 fentanyl 50 mcg/h patches shipped by a distributor to a pharmacy "
                            "that never records receiving them"))
                    d.stock[p] -= q
                for p, u in demand.items():
                    if d.stock[p] < u * 20:
                        q = int(math.ceil(u * 45 / PRODUCTS[p][5]) * PRODUCTS[p][5])
                        lot, exp = self.lot_at(p, day)
                        t = day * DAY + int(r.uniform(8, 12) * HOUR)
                        imp_orders[imp.id].append((day, d, p, q, lot, exp, t))
                        self.mv("receipt", t + DAY, d, p, self.qfmt(d, q), cp=imp.id, lot=lot,
                                exp=exp, prof=d.pharmacists[0])
                        d.stock[p] += q
                if self.is_month_end(day):
                    for p in demand:
                        self.mv("count", day * DAY + 18 * HOUR, d, p,
                                self.qfmt(d, max(0, math.floor(d.stock[p]))), prof=d.pharmacists[1])
                self.hook(d, day, [])
        for imp in self.importers:
            orders = sorted(imp_orders.get(imp.id, []), key=lambda x: x[0])
            demand = defaultdict(float)
            for o in orders:
                demand[o[2]] += o[3] / self.ndays
            for p, u in demand.items():
                imp.stock[p] = u * 90
                self.mv("count", 9 * HOUR, imp, p, self.qfmt(imp, math.floor(imp.stock[p])),
                        prof=imp.pharmacists[0])
            k = 0
            for day in range(self.ndays):
                while k < len(orders) and orders[k][0] <= day:
                    _, d, p, q, lot, exp, t = orders[k]
                    k += 1
                    self.mv("transfer_out", t, imp, p, self.qfmt(imp, q), cp=d.id, lot=lot, exp=exp,
                            prof=imp.pharmacists[0])
                    imp.stock[p] -= q
                for p, u in demand.items():
                    if imp.stock[p] < u * 30:
                        q = int(math.ceil(u * 120 / PRODUCTS[p][5]) * PRODUCTS[p][5])
                        lot, exp = self.lot_at(p, day + 5)
                        self.mv("import", day * DAY + int(r.uniform(7, 16) * HOUR), imp, p,
                                self.qfmt(imp, q), cp=FOREIGN[int(r.integers(len(FOREIGN)))],
                                lot=lot, exp=exp, prof=imp.pharmacists[0])
                        imp.stock[p] += q
                d0 = self.start + dt.timedelta(days=day + 1)
                if d0.day == 1 and d0.month in (1, 4, 7, 10):
                    for p in demand:
                        self.mv("count", day * DAY + 17 * HOUR, imp, p,
                                self.qfmt(imp, max(0, math.floor(imp.stock[p]))), prof=imp.pharmacists[1])

    def is_month_end(self, day):
        return (self.start + dt.timedelta(days=day + 1)).day == 1

    # ----------------------------------------------------------------- expected use
    def init_use(self):
        for e in self.hospitals + self.clinics:
            b = e.beds
            surg = 0.018 * b * (1.3 if e.kind == "clinic" else 1) * 0.8
            icu = b * (0.035 if b >= 100 else 0.012) * 0.75 * 0.45
            fen = surg * 1.8 + (0 if e.q["big_amp"] else icu * 12)
            e.use[FEN] = fen * 1.1
            if e.q["big_amp"]:
                e.use[FEN5] = icu * 2.6
            if b >= 200:
                e.use[REMI] = surg * 0.15
            e.use[MORA] = 0.0075 * b * 2
            if b >= 60 or e.kind == "clinic":
                e.use[PETH] = 0.0033 * b
            if b >= 80:
                n = b * 0.0009 * 4 * e.mult["chronic"]
                for p, share, per in ((MT30, .35, 70 / 28), (MT10, .2, 70 / 28), (P25, .2, 9 / 28),
                                      (P50, .15, 9 / 28), (METH, .1, 60 / 30)):
                    e.use[p] = n * share * per
        for e in self.pharmacies:
            s = e.q["size"]
            n = 0.04 * s * 4 * 26
            for p, share, per in ((MT30, .35, 70 / 28), (MT10, .2, 70 / 28), (P25, .2, 9 / 28),
                                  (P50, .15, 9 / 28), (METH, .1, 60 / 30)):
                e.use[p] = n * share * per / 26 * 3
            e.use[MT10] += 0.12 * s * 12 * 0.7
            e.use[MT30] += 0.12 * s * 12 * 0.3
        for e in self.hospitals + self.clinics + self.pharmacies:
            for p, u in e.use.items():
                e.stock[p] = math.ceil(u * 25)
                e.lot[p] = self.lot_at(p, 0)

    def warm_start(self):
        """v2: the year starts with the chronic patients already under treatment (about four
        months of new patients), their next renewal spread over their supply period."""
        r = self.rng

        def seed(e, n, pres, weights=None):
            for _ in range(n):
                c = self.new_chronic(e, 0, pres, weights=weights)
                c[4] = int(r.integers(0, c[3]))
                e.chronic.append(c)
        for e in self.hospitals:
            if e.beds >= 80:
                seed(e, r.poisson(e.beds * 0.0009 * e.mult["chronic"] * 120), e.onco)
        w = self.comm_chronic_w / self.comm_chronic_w.sum()
        for e in self.pharmacies:
            if e.open_day == 0:
                seed(e, r.poisson(0.04 * e.q["size"] * e.mult["chronic"] * 6 / 7 * 120), self.community, w)
        pal = self.inen.onco[0]
        for _ in range(r.poisson(0.12 * 120)):
            c = self.new_chronic(self.inen, 0, [pal], prod=r.choice([MT30, P50, METH]))
            c[2] = int(c[2] * 3) if c[1] != P50 else 30
            c[3] = 30
            c[4] = int(r.integers(0, 30))
            self.inen.chronic.append(c)

    # ----------------------------------------------------------------- hooks (scenarios)
    def hook(self, e, day, acts):
        for fn in self.day_hooks.get(e.id, []):
            fn(e, day, acts)

    def on(self, e, fn):
        self.day_hooks[e.id].append(fn)

    def D(self, month, day=1):
        return (dt.date(self.start.year, month, day) - self.start).days

    def iso(self, day):
        return self.daystr[max(0, min(day, len(self.daystr) - 1))]

    def add_truth(self, kind, scenario, subject_kind, subject_id, d0, d1, strength, note, **kw):
        self.truth.append({"kind": kind, "scenario": scenario, "subject_kind": subject_kind,
                           "subject_id": subject_id, "window_start": self.iso(d0),
                           "window_end": self.iso(d1), "strength": strength, "note": note, **kw})

    def plant(self):
        r = self.rng
        self.day_hooks: dict[str, list] = defaultdict(list)
        self.returns: list = []
        self.serials_out: list = []
        used: set[str] = {self.inen.id}
        big = sorted([h for h in self.hospitals if h is not self.inen], key=lambda h: -h.beds)

        def pick(pool, cond=lambda x: True):
            c = [x for x in pool if x.id not in used and cond(x)]
            if not c:  # small worlds: any unused establishment of the same kind
                kinds = {x.kind for x in pool}
                c = [x for x in self.ests if x.kind in kinds and x.id not in used and cond(x)]
            x = c[int(r.integers(len(c)))]
            used.add(x.id)
            return x

        mid = [h for h in big if 80 <= h.beds] or big
        # 1 nurse wasting far more than peers (strong)
        h1 = pick(mid[: max(3, len(mid) // 2)], lambda h: not h.q["self_witness"])
        n1 = h1.nurses[int(np.argmax(h1.nurse_w))]
        d0, d1 = self.D(3, 10), self.D(9, 30)
        self.hooks.setdefault("nurse_waste", {})[n1] = {
            "from": d0 * DAY, "to": d1 * DAY, "p": 0.55, "extra": lambda: float(r.choice([0.5, 1.0, 1.0])),
            "self_witness": 0.5}
        self.add_truth("planted", "nurse_waste_excess", "professional", n1, d0, d1, "strong",
                       "ICU/OR nurse records an extra half or whole ampoule of fentanyl as waste in "
                       "55 % of her cases, often self-witnessed or unwitnessed", establishment=h1.id)
        # 2 subtle waste nurse
        h2 = pick(mid, lambda h: not h.q["self_witness"])
        w = h2.nurse_w.copy()
        n2 = h2.nurses[int(np.argsort(-w)[min(1, len(w) - 1)])]
        d0, d1 = self.D(5, 1), self.D(11, 30)
        self.hooks["nurse_waste"][n2] = {"from": d0 * DAY, "to": d1 * DAY, "p": 0.2,
                                         "extra": lambda: 0.25, "self_witness": 0.0, "mode": "skim"}
        self.add_truth("planted", "nurse_waste_subtle", "professional", n2, d0, d1, "subtle",
                       "nurse records a quarter ampoule less given and a quarter more wasted (and keeps "
                       "it) in 20 % of her cases, witnessed normally", establishment=h2.id)
        # 3 prescriber escalation (community GP) dispensed at 3 pharmacies
        gp = self.pro("CMP", "prescriber", "general_medicine", None)
        phs = [pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400) for _ in range(3)]
        d0, d1 = self.D(3, 1), self.D(12, 15)

        def escal(e, day, acts, gp=gp, d0=d0, d1=d1):
            if d0 <= day < d1 and r.random() < (0.15 + 1.6 * (day - d0) / (d1 - d0)) / 3:
                c = self.new_chronic(e, day, [gp], prod=r.choice([P50, MT30, P50, METH]))
                c[2] = int(c[2] * r.choice([1, 2, 2, 3])) if c[1] != P50 else int(r.choice([10, 15, 20]))
                c[3] = 30
                c[6] = d1
                e.chronic.append(c)
                e.use[c[1]] += c[2] / 30
        for ph in phs:
            self.on(ph, escal)
        self.add_truth("planted", "prescriber_escalation", "professional", gp, d0, d1, "strong",
                       "general practitioner whose new chronic opioid patients (fentanyl 50 mcg/h "
                       "patches, morphine 30 mg, methadone) grow from ~1 to ~15 a month, high "
                       "quantities, dispensed at three pharmacies",
                       involved_establishments=[p.id for p in phs])
        # 4 surgeon post-op over-prescribing (subtle): community dispenses of morphine tablets
        hs = pick(big[: max(4, len(big) // 3)])
        surgeon = hs.surgeons[0]
        d0, d1 = self.D(4, 1), self.D(12, 31)
        phs4 = [x for x in self.pharmacies if x.dept == hs.dept and x.id not in used][:4] or phs

        def postop(e, day, acts, s=surgeon, d0=d0):
            if day >= d0 and r.random() < 0.35 / len(phs4):
                acts.append((day * DAY + int(r.uniform(10, 20) * HOUR), "dispense",
                             [self.patient(e), MT10, int(r.choice([20, 30, 40, 60])),
                              int(r.choice([5, 7, 10])), day, s, day]))
                e.use[MT10] += 0.3
        for ph in phs4:
            self.on(ph, postop)
        self.add_truth("planted", "surgeon_postop_overprescribing", "professional", surgeon, d0, d1,
                       "subtle", "surgeon gives discharged patients 20-60 morphine 10 mg tablets "
                       "(peers 6-20), about one patient every three days",
                       establishment=hs.id)
        # 5 pharmacy stock build-up, counts falsified to the books
        pb = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400 and x.q["cadence"] == "month")
        d0 = self.D(6, 1)

        def buildup(e, day, acts, d0=d0):
            if day == d0:
                e.mult["order_" + P50] = 6.0
                e.mult["order_" + P25] = 6.0
                e.use[P50] = max(e.use[P50], 1.0)
                e.use[P25] = max(e.use[P25], 1.0)
            if day >= d0 and r.random() < 0.08:
                # units walk out of the back door
                for p in (P25, P50):
                    e.stock[p] -= min(e.stock[p], int(e.use[p] * 6 * r.uniform(2, 4)))
        self.on(pb, buildup)
        self.hooks["fake_counts"] = {"est": pb, "from": d0 * DAY}
        self.add_truth("planted", "pharmacy_stock_buildup", "establishment", pb.id, d0, self.ndays - 1,
                       "strong", "pharmacy orders fentanyl patches ~6x its dispensing from June; the "
                       "surplus is sold outside and the counts are copied from the books")
        # 6 prescription mill pharmacy
        pm = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400)
        mill_pres = [self.pro("CMP", "prescriber", "general_medicine", None) for _ in range(2)]
        d0, d1 = self.D(7, 1), self.D(12, 31)

        def mill(e, day, acts, d0=d0):
            if day >= d0:
                for _ in range(r.poisson(1.6)):
                    prod = r.choice([P50, MT30])
                    qty = int(r.choice([10, 10, 15, 20])) if prod == P50 else int(r.choice([60, 90, 120]))
                    acts.append((day * DAY + int(r.uniform(17, 22.5) * HOUR), "dispense",
                                 [self.patient(None), prod, qty, 30, day, mill_pres[int(r.integers(2))], day]))
                e.use[P50] = max(e.use[P50], 8)
                e.use[MT30] = max(e.use[MT30], 40)
        self.on(pm, mill)
        self.add_truth("planted", "prescription_mill", "establishment", pm.id, d0, d1, "strong",
                       "pharmacy dispenses fentanyl patches / morphine 30 mg to ~1.6 one-off patients a "
                       "day in the evening, on forms of two prescribers from elsewhere",
                       prescribers=mill_pres)
        # 7 hospital shrinkage (counts below books)
        hk = pick(mid, lambda h: h.q["cadence"] != "irregular")
        d0, d1 = self.D(4, 1), self.D(11, 30)

        def shrink(e, day, acts, d0=d0, d1=d1):
            if d0 <= day < d1:
                k = 1 + 3 * (day - d0) / (d1 - d0)
                e.stock[FEN] -= r.poisson(k * 0.6)
                e.stock[MORA] -= r.poisson(k * 0.3)
        self.on(hk, shrink)
        self.add_truth("planted", "hospital_shrinkage", "establishment", hk.id, d0, d1, "subtle",
                       "fentanyl and morphine ampoules disappear unrecorded from the shelf (0.6 -> 2.4 a "
                       "day); honest counts fall further and further below the books")
        # 8 clinic repeated losses
        cl = pick(self.clinics)
        d0, d1 = self.D(5, 1), self.D(10, 31)
        loss_days = sorted(int(x) for x in r.integers(d0, d1, 4))

        def losses(e, day, acts, ld=loss_days):
            if day in ld:
                q = int(r.integers(10, 41))
                e.stock[FEN] -= q
                self.mv("loss", day * DAY + int(r.uniform(7, 20) * HOUR), e, FEN, self.qfmt(e, q),
                        prof=e.nurses[0])
        self.on(cl, losses)
        self.add_truth("planted", "clinic_repeated_losses", "establishment", cl.id, d0, d1, "strong",
                       "private clinic reports four losses of 10-40 fentanyl ampoules in six months")
        # 9 distributor theft
        dt_ = self.dists[int(r.integers(1, len(self.dists)))]
        used.add(dt_.id)
        dd = self.D(8, 14)

        def theft(e, day, acts, dd=dd):
            if day == dd:
                q = 600
                e.stock[FEN] -= q
                self.mv("loss", day * DAY + 3 * HOUR, e, FEN, self.qfmt(e, q), prof=e.pharmacists[0])
        self.on(dt_, theft)
        self.add_truth("planted", "distributor_theft", "establishment", dt_.id, dd, dd, "strong",
                       "distributor reports a night robbery of 600 fentanyl ampoules")
        # 10-11 doctor shopping
        for name, npres, nph, every, strength, m0 in (("doctor_shopping", 6, 5, 9, "strong", 4),
                                                      ("doctor_shopping_subtle", 3, 3, 18, "subtle", 6)):
            pat = self.patient(None)
            dept = r.choice(["15", "04", "13"])
            shops = [x for x in self.pharmacies if x.dept == dept and x.open_day == 0 and x.close_day > 400][:nph]
            if len(shops) < nph:
                shops = [x for x in self.pharmacies if x.open_day == 0 and x.close_day > 400][:nph]
            docs = r.choice(self.community, size=npres, replace=False)
            d0 = self.D(m0, 5)
            d1 = d0 + every * 14
            visits = {d0 + k * every + int(r.integers(-2, 3)): k for k in range(14)}

            def shop(e, day, acts, pat=pat, docs=docs, shops=shops, visits=visits):
                k = visits.get(day)
                if k is not None and e is shops[k % len(shops)]:
                    acts.append((day * DAY + int(r.uniform(9, 20) * HOUR), "dispense",
                                 [pat, r.choice([MT30, P50]) if k % 2 else MT30,
                                  60 if k % 2 == 0 else 10, 30, day, str(docs[k % len(docs)]), day]))
            for sh in shops:
                self.on(sh, shop)
            self.add_truth("planted", name, "patient", pat[0], d0, d1, strength,
                           f"patient obtains morphine / fentanyl every {every} days (30-day supplies) from "
                           f"{npres} prescribers at {nph} pharmacies")
        # 12 transfer never received (hospital -> hospital)
        ha = pick(mid)
        peers = [h for h in self.hospitals if h.dept == ha.dept and h is not ha and h.id not in used] or \
            [h for h in self.hospitals if h is not ha and h.id not in used]
        hb = peers[0]
        dtr = self.D(9, 3)

        def never(e, day, acts, dtr=dtr):
            if day == dtr:
                row = self.loan(e, hb, FEN, 150, day, received=False)
                self.never_rows.append(("transfer_never_received", row, day, hb.id))
        self.never_rows: list = []
        self.on(ha, never)
        # 13 distributor shipment never received: handled in upstream via a fake shipment
        pn = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400)
        self.ghost = (self.D(10, 7), pn)
        # 14 regional surge in one department
        dept = r.choice([k for k in ("13", "04", "12", "08") if any(x.dept == k for x in self.pharmacies)] or ["15"])
        outs = [x for x in self.pharmacies if x.dept == dept and x.id not in used][:3]
        if len(outs) < 2:
            extra = [self.add_est(Est(f"DIGEMID-F{3000000 + i:07d}", f"Farmacia Nueva Norte {i}", "pharmacy",
                                      "private", self.district(dept))) for i in range(3 - len(outs))]
            for x in extra:
                x.pharmacists = [self.pro("CQFP", "pharmacist", "", x)]
                x.supplier = self.nearest_dist(x).id
                x.q.update({"cadence": "month", "count_first": False, "book_count": False, "size": 1.0})
                self.pharmacies.append(x)
            outs += extra
        for x in outs:
            used.add(x.id)
        surge_pres = [self.pro("CMP", "prescriber", "general_medicine", None) for _ in range(3)]
        d0, d1 = self.D(8, 1), self.D(11, 30)

        def surge(e, day, acts, d0=d0, d1=d1):
            if d0 <= day < d1:
                for _ in range(r.poisson(1.2)):
                    c = self.new_chronic(e, day, surge_pres, prod=r.choice([P50, P25, MT30]))
                    c[6] = d1
                    e.chronic.append(c)
                    e.use[c[1]] += c[2] / 30
        for x in outs:
            self.on(x, surge)
        self.add_truth("planted", "regional_surge", "region", dept, d0, d1, "strong",
                       "new chronic fentanyl patch / morphine patients surge through three pharmacies "
                       "of one department (Aug-Nov), three local prescribers",
                       involved_establishments=[x.id for x in outs], prescribers=surge_pres)
        # 15 uncertified dispenser
        pu = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400)
        upro = self.pro("CQFP", "pharmacist", "", pu, cert="")
        pu.pharmacists.append(upro)
        d0, d1 = self.D(2, 1), self.D(12, 31)
        self.hooks["uncertified"] = {"est": pu, "pro": upro}

        def unc(e, day, acts, d0=d0):
            if day >= d0 and r.random() < 0.25:
                c = self.new_chronic(e, day, self.community, prod=r.choice([P50, P25]))
                e.chronic.append(c)
                e.use[c[1]] += c[2] / 30
        self.on(pu, unc)
        self.add_truth("planted", "uncertified_dispenser", "professional", upro, d0, d1, "strong",
                       "pharmacist never certified for safe opioid handling dispenses 85 % of a "
                       "pharmacy's fentanyl patches", establishment=pu.id)
        # 16 seized hospital lot
        hz = pick(mid)
        lot = f"412Z{int(r.integers(1000, 9999))}"
        exp = (self.start + dt.timedelta(days=700)).isoformat()
        dl = self.D(5, 20)
        dz = self.D(9, 12)

        def slot(e, day, acts, lot=lot, exp=exp, dl=dl):
            if day == dl:
                q = 500
                acts.append((day * DAY + 11 * HOUR, "receipt", (FEN, q, e.supplier, lot, exp)))
                self.shipments.append((day, e.supplier, e.id, FEN, q, lot, exp))
                e.q["lots"] = True
            if dl < day < dz + 20 and r.random() < 0.1:
                e.stock[FEN] -= int(r.integers(3, 12))
        self.on(hz, slot)
        self.seizures.append([f"PNP-{self.seed}-0001", f"{self.iso(dz)}T23:40:00-05:00",
                              self.district(hz.dept), "PNP-DIRANDRO", "street", "fentanyl", "",
                              "ampoule", "18", "", "", FEN, lot, ""])
        self.add_truth("planted", "seized_hospital_lot", "lot", lot, dl, dz, "strong",
                       "ampoules of a lot received only by one hospital are seized in the street",
                       establishment=hz.id)
        # 17 seized pharmacy serial (serialised patches)
        ps = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400)
        ps.q["serial"] = True
        ps.q["lots"] = True
        ps.q["size"] = max(ps.q["size"], 1.5)
        self.serial_est = ps
        # 18 unauthorized botica
        bu = pick(self.pharmacies, lambda x: x.kind == "drugstore" and x.open_day == 0 and x.close_day > 400)
        bu.authorized = False
        d0 = self.D(4, 1)
        self.add_truth("planted", "unauthorized_botica", "establishment", bu.id, 0, self.ndays - 1, "strong",
                       "botica without a controlled-medicines licence receives and dispenses opioids")
        # 19 expired licence keeps trading
        pe = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400)
        pe.expires = self.iso(self.D(5, 31))
        self.add_truth("planted", "expired_licence_keeps_trading", "establishment", pe.id, self.D(6, 1),
                       self.ndays - 1, "strong", "pharmacy whose licence expired on 31 May keeps receiving "
                       "and dispensing opioids")
        # 20 pharmacy expiry-waste inflation
        pw = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400 and len(x.pharmacists) >= 2)
        d0, d1 = self.D(3, 1), self.D(12, 15)

        def winfl(e, day, acts, d0=d0, d1=d1):
            if d0 <= day < d1 and r.random() < 1 / 12:
                p = r.choice([P50, P25, MT30])
                q = int(r.integers(5, 16)) if p != MT30 else int(r.integers(30, 91))
                e.stock[p] += 0  # the units were sold outside; waste declared to cover them
                e.use[p] += q / 12
                self.mv("waste", day * DAY + int(r.uniform(18, 21) * HOUR), e, p, self.qfmt(e, q),
                        prof=e.pharmacists[0], witness=e.pharmacists[1])
                e.stock[p] -= q
        self.on(pw, winfl)
        self.add_truth("planted", "pharmacy_expiry_waste_inflation", "establishment", pw.id, d0, d1,
                       "subtle", "pharmacy declares 'expired' patches and tablets as witnessed waste "
                       "every ~12 days (always the same witness); they were sold outside")

        # ---------------- look-alikes
        self.inen.mult["chronic"] = 10.0
        self.inen.q.update({"cadence": "month", "self_witness": False})
        self.add_truth("lookalike", "oncology_institute_orders", "establishment", self.inen.id, 0,
                       self.ndays - 1, "strong", "national cancer institute: very large patch, morphine "
                       "and methadone orders and outpatient dispensing, all legitimate")
        pal = self.inen.onco[0]
        self.pros = [x if x[0] != pal else (x[0], x[1], x[2], "palliative_care", *x[4:]) for x in self.pros]

        def palli(e, day, acts):
            if r.random() < 0.12:
                c = self.new_chronic(e, day, [pal], prod=r.choice([MT30, P50, METH]))
                c[2] = int(c[2] * 3) if c[1] != P50 else 30
                c[3] = 30
                e.chronic.append(c)
        self.on(self.inen, palli)
        self.add_truth("lookalike", "palliative_high_mme", "professional", pal, 0, self.ndays - 1, "strong",
                       "palliative care physician of the cancer institute: few patients on very high "
                       "doses (300+ mg morphine a day, 150 mcg/h fentanyl), renewed monthly")
        hbk = pick(mid)
        dbk = self.D(6, 18)

        def brk(e, day, acts, dbk=dbk):
            if day == dbk:
                e.stock[FEN] -= 48
                lot, exp = self.lotof(e, FEN)
                self.mv("waste", day * DAY + 10 * HOUR, e, FEN, self.qfmt(e, 48), lot=lot, exp=exp,
                        prof=e.pharmacists[0], witness=e.pharmacists[-1] if len(e.pharmacists) > 1 else e.nurses[0])
        self.on(hbk, brk)
        self.add_truth("lookalike", "breakage_incident", "establishment", hbk.id, dbk, dbk, "strong",
                       "a box of 48 fentanyl ampoules dropped in the pharmacy, wasted with witness")
        north = [d for d in ("20", "14", "24") if any(h.dept == d for h in self.hospitals)]
        if north:
            self.add_truth("lookalike", "rainy_season_north", "region", north[0], self.D(2, 10),
                           self.D(4, 15), "strong", "rainy season on the northern coast: accidents and "
                           "ICU admissions +60 % in Piura / Lambayeque / Tumbes, Feb-Apr")
        hn = pick(mid)
        dn = self.D(7, 1)
        hn.q["icu_from"] = dn
        hn.q["icu_extra"] = max(12.0, hn.beds * 0.08)

        def newicu(e, day, acts, dn=dn):
            if day == dn:
                e.use[FEN] += e.q["icu_extra"] * 0.41 * 12
                e.stock[FEN] += 0
        self.on(hn, newicu)
        self.add_truth("lookalike", "new_icu_opening", "establishment", hn.id, dn, self.ndays - 1, "strong",
                       "hospital opens a new ICU wing on 1 July: fentanyl use and orders jump")
        hw = pick(mid)
        hw.q["self_witness"] = True
        self.add_truth("lookalike", "witness_habit_hospital", "establishment", hw.id, 0, self.ndays - 1,
                       "strong", "hospital whose nurses record themselves as witness of residue waste "
                       "(habit, residues are real)")
        ph_h = pick(self.pharmacies, lambda x: x.open_day == 0 and x.close_day > 400)
        ph_h.q["size"] = max(ph_h.q["size"], 2.0)
        wins = [(self.D(7, 8), self.D(7, 20)), (self.D(12, 5), self.D(12, 18))]
        self.hooks["holiday"] = {"est": ph_h, "windows": wins}

        def holiday_sales(e, day, acts):
            if any(a <= day < b + 14 for a, b in wins):
                for _ in range(r.poisson(1.0 * e.q["size"])):
                    acts.append((day * DAY + int(r.uniform(9, 21) * HOUR), "dispense",
                                 [self.patient(e), MT10, int(r.choice([10, 20])), 5, day,
                                  self.community[int(r.integers(len(self.community)))], day]))
        self.on(ph_h, holiday_sales)
        self.add_truth("lookalike", "holiday_stockup_pharmacy", "establishment", ph_h.id, wins[0][0],
                       wins[1][1], "strong", "pharmacy triples its orders before Fiestas Patrias and "
                       "Christmas and sells through")
        # a cancer patient seen by oncology, palliative care and emergency of the same institute
        cp = self.patient(self.inen)
        docs = self.inen.onco[:3] + self.inen.anesth[:1]
        dc0 = self.D(3, 1)

        def cpat(e, day, acts):
            k = (day - dc0)
            if k >= 0 and k % 24 == 0 and k < 24 * 9:
                i = k // 24
                acts.append((day * DAY + 10 * HOUR, "dispense", [cp, MT30 if i % 2 == 0 else P50,
                                                                 60 if i % 2 == 0 else 10, 30, day,
                                                                 docs[i % len(docs)], day]))
        self.on(self.inen, cpat)
        self.add_truth("lookalike", "cancer_patient_several_prescribers", "patient", cp[0], dc0,
                       dc0 + 24 * 9, "strong", "cancer patient whose morphine and patches are renewed by "
                       "oncologist, palliative physician and pain clinic of one institute, every ~24 days "
                       "(dose titration)")
        po = pick(self.pharmacies, lambda x: x.close_day > 400)
        po.open_day = self.D(8, 4)
        po.q["size"] = max(2.0, po.q["size"])
        self.add_truth("lookalike", "new_pharmacy_opening", "establishment", po.id, po.open_day,
                       po.open_day + 60, "strong", "pharmacy opening in August with a large initial stock")
        hc = pick(big[:4] or mid)
        anc = self.pro("CMP", "prescriber", "anesthesiology", hc)
        hc.anesth.append(anc)
        hc.q["prescriber_on_admin"] = True
        self.hooks["cardiac"] = {"est": hc, "pro": anc, "share": 0.06}
        hc.use[FEN5] = hc.use.get(FEN5, 0) + 0.018 * hc.beds * 0.8 * 0.06 * 5
        self.add_truth("lookalike", "cardiac_anesthesiologist", "professional", anc, 0, self.ndays - 1,
                       "strong", "cardiac anaesthesiologist: 1.5-4 mg of fentanyl per case from 0.5 mg "
                       "ampoules, legitimately")

    # ----------------------------------------------------------------- main loop
    def simulate(self):
        t0 = time.time()
        self.build()
        self.plant()
        self.init_use()
        self.warm_start()
        for d in self.hospitals + self.clinics:
            d.use[FEN5] = d.use.get(FEN5, 0)
        ghost_day, ghost_pharm = self.ghost
        for day in range(self.ndays):
            for e in self.hospitals + self.clinics:
                self.hospital_day(e, day)
            for e in self.pharmacies:
                self.pharmacy_day(e, day)
            self.loans(day)
            if day == ghost_day:
                lot, exp = self.lot_at(P50, day)
                self.shipments.append((day, ghost_pharm.supplier, ghost_pharm.id, P50, 100, lot, exp,
                                       "ghost"))
        self.upstream()
        self.finish_truth()
        self.elapsed = time.time() - t0

    def finish_truth(self):
        for name, row, day, dest in self.never_rows:
            self.pending_truth.append(("planted", name, row, day, "strong",
                                       f"150 fentanyl ampoules sent by one hospital to another ({dest}) are "
                                       "never recorded as received"))
        # the serial seizure: a patch dispensed by the serialising pharmacy in July-September
        cand = [x for x in self.serials_out if self.D(6, 1) <= x[0] // DAY <= self.D(9, 30)]
        if cand:
            t, e, serial, lot, prod, row = cand[len(cand) // 2]
            dz = t // DAY + 40
            self.seizures.append([f"PNP-{self.seed}-0002", f"{self.iso(dz)}T02:15:00-05:00",
                                  self.district(e.dept), "PNP-DIRANDRO", "street", "fentanyl", "",
                                  "patch", "1", "", "", prod, lot, serial])
            self.add_truth("planted", "seized_pharmacy_serial", "serial", serial, t // DAY, dz, "strong",
                           "a serialised fentanyl patch dispensed by a pharmacy to a patient is seized "
                           "in the street", establishment=e.id)

    # ----------------------------------------------------------------- output
    def fmt_time(self, e: Est, t: int) -> str:
        tz = e.q["tz"]
        if tz == "utc":
            t += 5 * HOUR
        d, s = divmod(t, DAY)
        if d < 0:
            d, s = 0, 60
        txt = f"{self.daystr[d]}{' ' if tz == 'space' else 'T'}{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
        if tz == "offset":
            return txt + "-05:00"
        if tz == "utc":
            return txt + "+00:00"
        return txt

    def write(self, out: Path):
        r = self.rng
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "establishments.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["establishment_id", "name", "kind", "sector", "ubigeo", "ruc",
                        "authorized_controlled", "authorization_expires"])
            for e in self.ests:
                exp = e.expires or (self.iso(self.ndays + int(r.integers(30, 900))) if r.random() < 0.7 else "")
                w.writerow([e.id, e.name, e.kind, e.sector, e.ubigeo, e.ruc,
                            "true" if e.authorized else "false", exp])
        with open(out / "professionals.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["professional_id", "role", "full_name", "specialty", "establishment_id", "ubigeo",
                        "opioid_certified_on", "certificate_id"])
            for p in self.pros:
                w.writerow(p)
        with open(out / "products.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["product_code", "name", "substance", "dosage_form", "strength_mg_per_unit",
                        "patch_mcg_per_hour", "units_per_pack"])
            for code, (name, sub, form, mg, mcg, pack) in PRODUCTS.items():
                w.writerow([code, name, sub, form, mg, mcg, pack])
        # book-derived counts (clamped at zero) and event ids in each reporter's own style
        by_est: dict[str, list] = defaultdict(list)
        for row in self.rows:
            by_est[row[3]].append(row)
        final: list[list] = []
        sign = {"import": 1, "receipt": 1, "transfer_in": 1, "transfer_out": -1, "dispense": -1,
                "administer": -1, "waste": -1, "loss": -1, "export": -1}
        for eid, rows in by_est.items():
            e = self.by_id[eid]
            rows.sort(key=lambda x: x[2])
            book: dict[str, float] = defaultdict(float)
            for row in rows:
                if row[1] == "count":
                    if len(row) > 19:
                        v = max(0.0, math.floor(book[row[4]] + 1e-6))
                        row[5] = self.qfmt(e, v)
                        del row[19:]
                    book[row[4]] = float(row[5])
                else:
                    book[row[4]] += sign[row[1]] * float(row[5])
            style = e.q["evid"]
            pre = eid.split("-")[-1]
            for n, row in enumerate(rows, 1):
                if style == "seq":
                    row[0] = f"{pre}-{n:07d}"
                elif style == "date":
                    row[0] = f"{self.daystr[max(0, row[2] // DAY)].replace('-', '')}-{n:06d}"
                else:
                    row[0] = f"{(n * 2654435761 + int(pre[-4:] or 0) * 97) % 16 ** 12:012x}"
            cut = e.cutoff_day * DAY
            kept = [x for x in rows if x[2] < cut]
            self.quirk_counts["partial_last_month_rows_dropped"] += len(rows) - len(kept)
            final += kept
            m = e.q["dup_month"]
            if m >= 0:
                a = (dt.date(self.start.year, m + 1, 1) - self.start).days * DAY
                b = a + MONTHS[m] * DAY
                dup = [x for x in kept if a <= x[2] < b]
                final += dup
                self.quirk_counts["duplicate_rows"] += len(dup)
        final.sort(key=lambda x: (x[2] // (7 * DAY), x[3]))  # weekly files, by reporter
        with open(out / "movements.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["event_id", "event_type", "occurred_at", "establishment_id", "product_code",
                        "quantity", "counterparty_id", "lot", "expiry", "serial", "prescription_id",
                        "prescriber_id", "professional_id", "patient_id", "patient_sex",
                        "patient_birth_year", "patient_ubigeo", "days_supply", "witness_id"])
            for row in final:
                e = self.by_id[row[3]]
                out_row = list(row[:19])
                out_row[2] = self.fmt_time(e, row[2])
                w.writerow(out_row)
        for kind, name, row, day, strength, note in self.pending_truth:
            self.add_truth(kind, name, "shipment", row[0], day, day + 30, strength, note,
                           establishment=row[3])
        with open(out / "seizures.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["seizure_id", "occurred_at", "ubigeo", "agency", "context", "substance", "smiles",
                        "form", "units", "net_mass_mg", "purity_percent", "product_code", "lot", "serial"])
            for s in self.seizures:
                w.writerow(s)
            for i in range(int(8 + 10 * self.scale)):
                day = int(r.integers(0, self.ndays))
                ctx = r.choice(["street", "street", "parcel", "airport", "pharmacy"])
                if ctx == "pharmacy":
                    # DIGEMID finds counterfeit patches with a registry code and an unknown lot
                    w.writerow([f"DIG-{self.seed}-{i:04d}", f"{self.iso(day)}T11:00:00-05:00",
                                self.district(), "DIGEMID", "pharmacy", "fentanyl", "", "patch",
                                str(int(r.integers(2, 20))), "", "", P25, f"X{int(r.integers(10000, 99999))}", ""])
                else:
                    w.writerow([f"PNP-{self.seed}-{i + 100:04d}", f"{self.iso(day)}T{int(r.integers(0, 24)):02d}:30:00",
                                self.district(), r.choice(["PNP-DIRANDRO", "SUNAT"]), ctx,
                                r.choice(["fentanyl", "unknown white powder", "fentanyl"]), "",
                                r.choice(["powder", "pill"]), "", f"{float(r.uniform(50, 5000)):.1f}",
                                f"{float(r.uniform(2, 40)):.1f}", "", "", ""])
        with open(out / "truth.jsonl", "w", encoding="utf-8") as fh:
            for t in self.truth:
                fh.write(json.dumps(t, ensure_ascii=False) + "\n")
        return len(final)


def generate(out: str | Path, seed: int = 1, scale: float = 0.3, start: str = "2025-01-01") -> dict:
    """Generate one foreign year into ``out``; return a summary."""
    w = World(seed, scale, dt.date.fromisoformat(start))
    w.pending_truth = []
    w.simulate()
    n = w.write(Path(out))
    summary = {"seed": seed, "scale": scale, "movements": n, "establishments": len(w.ests),
               "professionals": len(w.pros), "planted": sum(t["kind"] == "planted" for t in w.truth),
               "lookalikes": sum(t["kind"] == "lookalike" for t in w.truth),
               "quirks": dict(w.quirk_counts), "simulate_s": round(w.elapsed, 1)}
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--start", default="2025-01-01")
    a = ap.parse_args(argv)
    t0 = time.time()
    s = generate(a.outdir, a.seed, a.scale, a.start)
    s["total_s"] = round(time.time() - t0, 1)
    print(json.dumps(s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
