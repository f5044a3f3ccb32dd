"""Bulletin PDF with fpdf2: a Unicode TTF when the system has one, else Helvetica (Latin-1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF

from centinela.lib import clock

FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)
# Helvetica covers Latin-1 (á, é, ñ, ¿, ¡): only these need a plain spelling.
_ASCII = {"–": "-", "—": "-", "≤": "<=", "≥": ">=", "×": "x", "α": "alfa", "β": "beta",
          "…": "...", "“": '"', "”": '"', "‘": "'", "’": "'", "•": "-", "µ": "u",
          "→": "->"}


def unicode_font() -> tuple[str, str] | None:
    """Return (regular, bold) TTF paths of a Unicode font on this system, or None."""
    for regular, bold in FONT_CANDIDATES:
        if Path(regular).is_file() and Path(bold).is_file():
            return regular, bold
    return None


class UnicodeDoc(FPDF):
    """An A4 document in a Unicode font when the system has one (else Helvetica, with the few
    characters Latin-1 lacks spelled plainly by ``text_``); shared by Centinela's PDFs."""

    def __init__(self, margin: float = 18) -> None:
        super().__init__(format="A4")
        fonts = unicode_font()
        self.unicode = fonts is not None
        if fonts:
            self.add_font("Body", "", fonts[0])
            self.add_font("Body", "B", fonts[1])
            self.family_name = "Body"
        else:
            self.family_name = "Helvetica"
        self.set_auto_page_break(True, margin=margin)

    def text_(self, value: object) -> str:
        value = str(value)
        if self.unicode:
            return value
        for k, v in _ASCII.items():
            value = value.replace(k, v)
        return value.encode("latin-1", "replace").decode("latin-1")


class _Doc(UnicodeDoc):
    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family_name, "", 8)
        self.cell(0, 6, self.text_(f"Centinela · Sistema de Alerta Temprana · {self.number} · "
                                   f"página {self.page_no()}"), align="C")


def bulletin_pdf(number: str, issued_at: dt.datetime, c: dict) -> bytes:
    """Render the bulletin content as an A4 PDF and return its bytes."""
    pdf = _Doc(number)
    pdf.add_page()
    f = pdf.family_name
    w = pdf.epw

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font(f, "B", 12)
        pdf.multi_cell(w, 7, pdf.text_(text), new_x="LMARGIN", new_y="NEXT")

    def para(text: str, size: int = 10) -> None:
        pdf.set_font(f, "", size)
        pdf.multi_cell(w, 5.5, pdf.text_(text), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font(f, "B", 9)
    pdf.cell(w, 5, pdf.text_("REPÚBLICA DEL PERÚ · CENTINELA · SISTEMA DE ALERTA TEMPRANA"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(f, "B", 16)
    pdf.multi_cell(w, 8, pdf.text_(f"Boletín {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(f, "B", 13)
    pdf.multi_cell(w, 7, pdf.text_(c["title"]), new_x="LMARGIN", new_y="NEXT")
    para(f"Emitido: {clock.lima_day(issued_at).isoformat()} · Nivel de "
         f"riesgo: {c['severity'].upper()}", 9)
    heading("Qué")
    para(c["what"])
    counts = c["counts"]
    para(f"Incautaciones: {counts['seizures']} · Identificaciones de laboratorio: {counts['lab']}"
         f" · Intoxicaciones/sobredosis: {counts['overdoses']} (fallecidos: {counts['deaths']})")
    if c["substance"].get("smiles"):
        para("Estructura (SMILES): " + c["substance"]["smiles"], 8)
    heading("Dónde")
    para(", ".join(x["name"] for x in c["where"]) or "Perú")
    for d in c["districts"]:
        para(f"- {d['name']}: {d['count']}", 9)
    heading("Cuándo")
    para(f"Del {c['when']['from']} al {c['when']['to']}.")
    heading("Riesgo")
    para(c["risk"])
    heading("Recomendaciones")
    for r in c["recommendations"]:
        para("- " + r)
    if c["alerts"]:
        heading("Alertas relacionadas")
        for a in c["alerts"]:
            para(f"- {a['alert_id']} ({a['severity']}): {a['summary']}", 9)
    pdf.ln(3)
    para(c["disclaimer"], 8)
    return bytes(pdf.output())
