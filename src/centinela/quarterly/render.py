"""Render the figures to HTML (Jinja2, inline SVG) and to PDF (WeasyPrint: vector charts)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from centinela.quarterly import charts
from centinela.reference.ubigeo import departments

TEMPLATES = Path(__file__).parent / "templates"
_PDF_LOCK = threading.Lock()  # Pango and fontconfig are not safe to drive from several threads
_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))

SUPPLY_LABELS = (
    ("import", "Importación"), ("transfer_out", "Distribución (salidas)"),
    ("receipt", "Recepción"), ("transfer_in", "Transferencias recibidas"),
    ("export", "Exportación"), ("loss", "Pérdidas y robos declarados"), ("waste", "Desecho"),
)
TIER_LABELS = {"attenuated": "Forma atenuada (≤ 1 mg; 3–7 años)",
               "basic": "Tipo base (> 1 y ≤ 3 mg; 8–15 años)",
               "aggravated": "Forma agravada (> 3 mg; 15–25 años)",
               "not_applicable": "No es fentanilo ni análogo (no aplica)",
               "unknown": "Sustancia o masa sin determinar"}
SOURCE_LABELS = {"seizure": "incautaciones", "lab": "laboratorio", "overdose": "sobredosis",
                 "online": "en línea", "citizen": "denuncias", "alert": "alertas"}
STATE_LABELS = {"open": "abierta", "confirmed": "confirmada", "justified": "justificada",
                "false_positive": "falso positivo"}
LEAD_LABELS = {"open": "abiertas", "confirmed": "confirmadas", "dismissed": "descartadas"}
ROLE_LABELS = {"prescriber": "Prescriptores (CMP, COP)", "pharmacist": "Farmacéuticos (CQFP)",
               "nurse": "Enfermería (CEP; no exigido)"}
QUARTER_NAMES = {1: "primer", 2: "segundo", 3: "tercer", 4: "cuarto"}

METHOD_NOTES = (
    "Fuente: los registros almacenados en Centinela (formato de reporte, versión 1) hasta la "
    "fecha de corte indicada. El mismo banco de datos y el mismo trimestre producen las mismas "
    "cifras; la huella es el SHA-256 del JSON de cifras.",
    "Trimestres del calendario de Lima (UTC−5). Los movimientos se asignan por su fecha de "
    "ocurrencia, no por la fecha en que se recibieron.",
    "Consumo: eventos dispense y administer. Miligramos = unidades × mg por unidad del registro "
    "de productos (para parches, el contenido declarado del parche). Productos no registrados no "
    "suman miligramos y se cuentan en calidad de datos.",
    "Tasas por 100 000 habitantes con la población proyectada por el INEI al 30 de junio de "
    "2025 (archivo ubigeo_inei_2025.csv incluido en el paquete), por departamento del "
    "establecimiento que dispensó o administró.",
    "Tipo de institución: el formato no tiene ese campo. Se deriva así: sector privado → "
    "Privado; establecimiento público cuyo nombre y distrito coinciden con un hospital del "
    "registro IPRESS de MINSA incluido en el paquete → su institución (EsSalud; Sanidad del "
    "Ejército, Marina, Fuerza Aérea o PNP; MINSA, gobierno regional o municipal); si no, por "
    "palabras del nombre (EsSalud, Seguro Social; Militar, Naval, FAP, Policía, PNP); el resto "
    "del sector público se asigna a MINSA y gobiernos regionales. Es una aproximación.",
    "Alertas: las de cualquier detector cuya evidencia termina en el trimestre (robusto a cargas "
    "retrasadas). Resultados según los eventos de caso hasta la fecha de corte. Precisión = "
    "confirmadas / (confirmadas + justificadas + falsos positivos). Tiempo hasta el triaje = "
    "desde la creación de la alerta hasta su primer cambio de estado.",
    "Incautaciones: tramo de la Ley N.° 32250 calculado con centinela.ews.tiers (masa pura si se "
    "informa pureza; si no, masa neta o unidades × concentración del producto). Es una "
    "referencia, no una calificación jurídica.",
    "Certificación: un certificado es válido desde su emisión hasta su vencimiento, ambos "
    "incluidos (tabla de certificados o fecha opioid_certified_on del registro más la vigencia "
    "configurada). Misma regla que el detector uncertified_handler.",
    "Denuncias ciudadanas y pistas en línea: solo conteos por departamento, tipo y estado.",
    "Reportes tardíos: movimientos recibidos más de 7 días después de ocurridos (fecha de la "
    "importación que los trajo). Diferencias de conteo: centinela.ledger.stock.reconcile_counts.",
)


def _num(v, digits: int = 1) -> str:
    if v is None:
        return "—"
    return charts._num(float(v), digits)


def digest(figures: dict) -> str:
    """Return the SHA-256 of the canonical JSON of the figures."""
    return hashlib.sha256(figures_json(figures).encode()).hexdigest()


def figures_json(figures: dict) -> str:
    """Return the canonical JSON text of the figures (sorted keys, UTF-8)."""
    return json.dumps(figures, ensure_ascii=False, sort_keys=True, indent=1)


def build_charts(f: dict) -> dict[str, str]:
    """Return every chart of the report as an SVG string."""
    names = departments()
    c = f["consumption"]
    cert = {d["department"]: d["percent"] for d in f["certification"]["by_department"]
            if d["percent"] is not None}
    lima_names = {d["ubigeo"]: d["name"] for d in c["lima_callao_districts"]}
    det = sorted(f["alerts"]["by_detector"], key=lambda d: (-d["raised"], d["detector"]))
    return {
        "map_departments": charts.choropleth(
            {d["department"]: d["fentanyl_per_100k"] for d in c["by_department"]}, names,
            f"Fentanilo por departamento, {f['quarter']}", "mg / 100 000 hab."),
        "map_lima": charts.choropleth(
            {d["ubigeo"]: d["fentanyl_per_100k"] for d in c["lima_callao_districts"]}, lima_names,
            "Lima Metropolitana y Callao, por distrito", "mg / 100 000 hab.", kind="lima"),
        "trend": charts.trend(c["trend"], [("fentanyl_mg", "Fentanilo", charts.FENT),
                                           ("other_opioids_mg", "Otros opioides", charts.OTHER)],
                              "Consumo nacional, últimos cinco trimestres", "mg"),
        "institutions": charts.bars([(i["label"], i["fentanyl_mg"] or 0.0)
                                     for i in c["by_institution"]],
                                    "Fentanilo por tipo de institución", "mg"),
        "detectors": charts.bars([(d["detector"], float(d["raised"])) for d in det[:15]],
                                 "Alertas por detector", "", color=charts.OTHER, digits=0),
        "map_certification": charts.choropleth(
            cert, names, f"Certificación vigente al {f['certification']['as_of']}",
            "% certificados"),
    }


def render_html(f: dict) -> str:
    """Return the standalone HTML report (inline CSS and SVG; no external resource)."""
    names = departments()
    oc = f["online_and_citizens"]
    oc_deps = sorted(set(oc["online_leads"]["by_department"]) | set(oc["citizen_reports"]["by_department"]))
    year, q = f["quarter"].split("Q")
    return _env.get_template("report.html").render(
        f=f, charts=build_charts(f), digest=digest(f), num=_num,
        qlabel=f"{f['quarter']} ({QUARTER_NAMES[int(q)]} trimestre de {year})",
        supply_labels=SUPPLY_LABELS, tier_labels=TIER_LABELS, source_labels=SOURCE_LABELS,
        state_labels=STATE_LABELS, lead_labels=LEAD_LABELS, role_labels=ROLE_LABELS,
        method_notes=METHOD_NOTES, oc_departments=oc_deps,
        dep_name=lambda code: names.get(code or "", "sin departamento"),
    )


def render_pdf(html: str) -> bytes:
    """Lay out the HTML as an A4 PDF with WeasyPrint (charts stay vector)."""
    from weasyprint import HTML

    with _PDF_LOCK:
        return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
