"""Render the figures to HTML (Jinja2, inline SVG) and to PDF (WeasyPrint: vector charts)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from centinela.quarterly import charts, words
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
SOURCE_LABELS = {"seizure": "incautaciones", "lab": "análisis de laboratorio",
                 "overdose": "intoxicaciones y sobredosis", "online": "ofertas en línea",
                 "citizen": "denuncias ciudadanas", "alert": "alertas", "detection": "detecciones"}
STATE_LABELS = {"open": "abierta", "confirmed": "confirmada", "justified": "justificada",
                "false_positive": "falso positivo"}
LEAD_LABELS = {"open": "abiertas", "confirmed": "confirmadas", "dismissed": "descartadas"}
ROLE_LABELS = {"prescriber": "Prescriptores (CMP, COP)", "pharmacist": "Farmacéuticos (CQFP)",
               "nurse": "Enfermería (CEP; no exigido)"}
SECTOR_LABELS = {"public": "Público", "private": "Privado", "desconocido": "Sin registro"}
SOURCE = "Fuente: Centinela, registros de movimientos de opioides controlados"

METHOD_NOTES = (
    "Fuente: los registros almacenados en Centinela (formato de reporte, versión 1) hasta la "
    "fecha de corte indicada. El mismo banco de datos y el mismo trimestre producen las mismas "
    "cifras; la huella es el SHA-256 del archivo JSON de cifras que acompaña al informe.",
    "Trimestres del calendario de Lima (UTC−5). Los movimientos se asignan por su fecha de "
    "ocurrencia, no por la fecha en que se recibieron. Fechas y horas en hora de Lima.",
    "Consumo: unidades dispensadas a pacientes y administradas en el establecimiento. "
    "Miligramos = unidades × mg por unidad del registro de productos (para parches, el "
    "contenido declarado del parche). Los productos no registrados no suman miligramos y se "
    "cuentan en la calidad de los datos.",
    "Tasas por 100 000 habitantes con la población proyectada por el INEI al 30 de junio de "
    "2025 (tabla de ubigeos del INEI incluida en Centinela), por departamento del "
    "establecimiento que dispensó o administró.",
    "Tipo de institución: el formato no tiene ese campo. Se deriva así: sector privado → "
    "Privado; establecimiento público cuyo nombre y distrito coinciden con un hospital del "
    "registro IPRESS de MINSA incluido en Centinela → su institución (EsSalud; Sanidad del "
    "Ejército, Marina, Fuerza Aérea o PNP; MINSA, gobierno regional o municipal); si no, por "
    "palabras del nombre (EsSalud, Seguro Social; Militar, Naval, FAP, Policía, PNP); el resto "
    "del sector público se asigna a MINSA y gobiernos regionales. Es una aproximación.",
    "Alertas: las de cualquier detector cuya evidencia termina en el trimestre (robusto a cargas "
    "retrasadas). Resultados según los eventos de caso hasta la fecha de corte. Precisión = "
    "confirmadas / (confirmadas + justificadas + falsos positivos). Tiempo hasta el triaje = "
    "desde la creación de la alerta hasta su primer cambio de estado.",
    "Incautaciones: tramo de la Ley N.° 32250 calculado por Centinela (masa pura si se informa "
    "pureza; si no, masa neta o unidades × concentración del producto). Es una referencia, no "
    "una calificación jurídica. Nombres de sustancias según el registro de sustancias del "
    "sistema de alerta temprana.",
    "Certificación: un certificado es válido desde su emisión hasta su vencimiento, ambos "
    "incluidos (tabla de certificados, o fecha de certificación en opioides del registro de "
    "profesionales más la vigencia configurada). Es la misma regla de la alerta «{uncertified}».",
    "Denuncias ciudadanas y pistas en línea: solo conteos por departamento, tipo y estado.",
    "Reportes tardíos: movimientos recibidos más de 7 días después de ocurridos (fecha de la "
    "importación que los trajo). Diferencias de conteo: conteo físico comparado con el saldo "
    "del libro de existencias desde el conteo anterior.",
)


def method_notes() -> list[str]:
    """Return the method notes with the detectors named as the app names them."""
    return [n.format(uncertified=words.detector("uncertified_handler")) for n in METHOD_NOTES]


def _num(v, digits: int = 1) -> str:
    return words.num(v, digits)


def digest(figures: dict) -> str:
    """Return the SHA-256 of the canonical JSON of the figures."""
    return hashlib.sha256(figures_json(figures).encode()).hexdigest()


def figures_json(figures: dict) -> str:
    """Return the canonical JSON text of the figures (sorted keys, UTF-8)."""
    return json.dumps(figures, ensure_ascii=False, sort_keys=True, indent=1)


def build_charts(f: dict) -> dict[str, str]:
    """Return every chart of the report as an SVG string (titles and units in Spanish)."""
    names = departments()
    c = f["consumption"]
    cert = {d["department"]: d["percent"] for d in f["certification"]["by_department"]
            if d["percent"] is not None}
    lima_names = {d["ubigeo"]: d["name"] for d in c["lima_callao_districts"]}
    det = sorted(f["alerts"]["by_detector"], key=lambda d: (-d["raised"], d["detector"]))
    quarter = words.quarter_short(f["quarter"])
    trend = [{**p, "quarter": words.quarter_short(p["quarter"])} for p in c["trend"]]
    out = {
        "map_departments": charts.choropleth(
            {d["department"]: d["fentanyl_per_100k"] for d in c["by_department"]}, names,
            f"Fentanilo consumido por departamento, {quarter}", "mg / 100 000 hab."),
        "map_lima": charts.choropleth(
            {d["ubigeo"]: d["fentanyl_per_100k"] for d in c["lima_callao_districts"]}, lima_names,
            f"Lima Metropolitana y Callao, por distrito, {quarter}", "mg / 100 000 hab.",
            kind="lima"),
        "trend": charts.trend(trend, [("fentanyl_mg", "Fentanilo", charts.FENT),
                                      ("other_opioids_mg", "Otros opioides", charts.OTHER)],
                              "Consumo nacional en los últimos cinco trimestres (mg)", "mg",
                              empty="sin registros de consumo en estos trimestres"),
        "institutions": charts.bars([(i["label"], i["fentanyl_mg"] or 0.0)
                                     for i in c["by_institution"]],
                                    f"Fentanilo consumido por tipo de institución, {quarter} (mg)",
                                    "mg", left=230),
        "map_certification": charts.choropleth(
            cert, names, f"Certificación vigente al {words.day(f['certification']['as_of'])}",
            "% certificados", empty="sin profesionales registrados"),
    }
    if det:  # no chart of nothing: the table says there were no alerts
        out["detectors"] = charts.bars(
            [(words.detector(d["detector"]), float(d["raised"])) for d in det[:15]],
            f"Alertas por detector, {quarter}", "", color=charts.OTHER, digits=0, left=300)
    return out


def _context(f: dict) -> dict:
    """Return the template's words for the figures (no figure is computed here)."""
    oc = f["online_and_citizens"]
    oc_deps = sorted(set(oc["online_leads"]["by_department"]) | set(oc["citizen_reports"]["by_department"]))
    registered = {d["department"] for d in f["certification"]["by_department"]}
    return {
        "f": f, "charts": build_charts(f), "digest": digest(f), "num": _num, "w": words,
        "quarter": words.quarter_long(f["quarter"]),
        "quarter_short": words.quarter_short(f["quarter"]),
        "previous": words.quarter_short(f["previous_quarter"]),
        "year_ago": words.quarter_short(f["year_ago_quarter"]),
        "period": words.period(f["period"]["first_day"], f["period"]["last_day"]),
        "as_of": words.moment(f["as_of"]),
        "seized": words.merge_substances(f["seizures"]["by_substance"], "substance",
                                         ("count", "mass_mg")),
        "signalled": words.merge_substances(f["early_warning"]["top_substances"], "substance",
                                            ("signals",)),
        "supply_labels": SUPPLY_LABELS, "tier_labels": TIER_LABELS,
        "source_labels": SOURCE_LABELS, "state_labels": STATE_LABELS, "lead_labels": LEAD_LABELS,
        "role_labels": ROLE_LABELS, "sector_labels": SECTOR_LABELS, "source": SOURCE,
        "method_notes": method_notes(), "oc_departments": oc_deps,
        "no_professionals": [n for code, n in sorted(departments().items())
                             if code not in registered],
        "dep_name": words.department,
    }


def render_html(f: dict) -> str:
    """Return the standalone HTML report (inline CSS and SVG; no external resource)."""
    return _env.get_template("report.html").render(**_context(f))


def render_pdf(html: str) -> bytes:
    """Lay out the HTML as an A4 PDF with WeasyPrint (charts stay vector)."""
    from weasyprint import HTML

    with _PDF_LOCK:
        return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
