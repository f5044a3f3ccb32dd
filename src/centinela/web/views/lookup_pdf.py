"""The clinical report as a printable A4 PDF (fpdf2, a Unicode font when the system has one)."""

from __future__ import annotations

import datetime as dt

from centinela.ews.pdf import UnicodeDoc
from centinela.lib import clock
from centinela.web.i18n import translate
from centinela.web.views.lookup import LookupResult


class _Report(UnicodeDoc):
    def __init__(self, footer: str) -> None:
        super().__init__(margin=16)
        self.footer_text = footer

    t = UnicodeDoc.text_

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family_name, "", 8)
        self.cell(0, 6, self.t(f"{self.footer_text} · {self.page_no()}"), align="C")

    def line_(self, text: str, size: int = 10, bold: bool = False, h: float = 5.5) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)
        self.multi_cell(0, h, self.t(text), new_x="LMARGIN", new_y="NEXT")


def report_pdf(r: LookupResult, actor: str, now: dt.datetime, lang: str = "es") -> bytes:
    """Render one patient's clinical report; returns the PDF bytes."""
    def tr(key: str, **kw) -> str:
        return translate(key, lang, **kw)

    stamp = (now + clock.UTC_OFFSET).strftime("%Y-%m-%d %H:%M")
    pdf = _Report(f"Centinela · {tr('lookup.title')} · {r.patient_id} · {actor} · {stamp}")
    pdf.add_page()
    pdf.line_(tr("lookup.title"), 16, bold=True, h=8)
    pdf.line_(f"{r.patient_id} · {r.since} → {r.until}", 9)
    if r.identity:
        i = r.identity
        sex = tr(f"lookup.sex_{i.sex}") if i.sex else "—"
        born = f"{i.birth_year} ({i.age})" if i.birth_year else "—"
        pdf.line_(f"{tr('lookup.sex')}: {sex} · {tr('lookup.birth_year')}: {born} · "
                  f"{tr('lookup.district')}: {i.district_name or '—'}", 10)
    if r.status != "found":
        pdf.line_(tr(f"lookup.status_{r.status}", last_seen=(r.last_seen or "")[:10]), 10,
                  bold=True)
    pdf.ln(2)
    pdf.line_(f"{tr('lookup.risk')}: {r.risk_score}/100 ({tr('lookup.risk_band_' + r.risk_band)})",
              13, bold=True, h=7)
    for w in r.warnings:
        pdf.line_("• " + tr(w, threshold=r.mme_threshold), 10, bold=True)
    pdf.ln(1)
    pdf.set_font(pdf.family_name, "B", 9)
    widths = (80, 22, 18, 70)
    for w, head in zip(widths, ("lookup.risk_factor", "lookup.risk_value", "lookup.risk_points",
                                "lookup.risk_rule"), strict=True):
        pdf.cell(w, 6, pdf.t(tr(head)), border="B")
    pdf.ln()
    pdf.set_font(pdf.family_name, "", 9)
    for f in r.risk_factors:
        pdf.cell(widths[0], 5.5, pdf.t(tr(f"lookup.factor_{f.key}")))
        pdf.cell(widths[1], 5.5, pdf.t(f"{f.value:g}"), align="R")
        pdf.cell(widths[2], 5.5, str(f.points), align="R")
        rule = tr(f"lookup.rule_{f.key}")  # the rule in the reader's language
        pdf.cell(widths[3], 5.5, pdf.t((f.rule if rule == f"lookup.rule_{f.key}" else rule)[:60]))
        pdf.ln()
    pdf.ln(2)
    pdf.line_(f"{tr('lookup.current_mme')}: {r.current_mme:.1f} · {tr('lookup.max_mme')}: "
              f"{r.max_mme:.1f} · {tr('lookup.current_diazepam')}: {r.current_diazepam_mg:.1f}", 10)
    pdf.line_(tr("lookup.providers", p90=r.prescribers_90d, f90=r.pharmacies_90d,
                 p12=r.prescribers_12m, f12=r.pharmacies_12m), 10)
    pdf.ln(2)
    pdf.line_(f"{tr('lookup.dispensations')} ({len(r.dispensations)})", 12, bold=True, h=7)
    cols = (24, 62, 14, 14, 18, 58)
    pdf.set_font(pdf.family_name, "B", 8)
    for w, head in zip(cols, ("mov.when", "mov.product", "mov.quantity", "lookup.days_supply",
                              "lookup.daily_mme", "mov.prescriber"), strict=True):
        pdf.cell(w, 5.5, pdf.t(tr(head)), border="B")
    pdf.ln()
    pdf.set_font(pdf.family_name, "", 8)
    for d in r.dispensations[:400]:
        pdf.cell(cols[0], 5, pdf.t(d.occurred_at[:10]))
        pdf.cell(cols[1], 5, pdf.t((d.product_name or d.product_code)[:40]))
        pdf.cell(cols[2], 5, pdf.t(f"{d.quantity:g}"), align="R")
        pdf.cell(cols[3], 5, pdf.t(d.days_supply or ""), align="R")
        dose = f"{d.daily_mme:.1f}" if d.substance_class != "benzodiazepine" \
            else f"{d.daily_diazepam_mg:.1f} DZ"
        pdf.cell(cols[4], 5, pdf.t(dose), align="R")
        pdf.cell(cols[5], 5, pdf.t((d.prescriber_name or d.prescriber_id or "")[:36]))
        pdf.ln()
    pdf.ln(3)
    pdf.line_(tr("lookup.risk_explain"), 8)
    pdf.line_(tr("lookup.privacy"), 8)
    return bytes(pdf.output())
