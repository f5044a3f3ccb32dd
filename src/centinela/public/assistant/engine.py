"""Answer one user message: red flags first, then dose refusal, treatment locator, knowledge
base (with a confidence threshold) or an honest fallback. Never a diagnosis or a dose."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from centinela.lib.text import fold_keep_enye as fold
from centinela.public.assistant import messages as msg
from centinela.public.assistant.dose import is_dose_question
from centinela.public.assistant.kb import Entry
from centinela.public.assistant.language import LANGS, detect_language, without_quechua
from centinela.public.assistant.legal import LEGAL_SOURCES, is_legal_quantity_question, legal_answer
from centinela.public.assistant.redflags import detect as detect_red_flag
from centinela.public.assistant.redflags import pet_exposure
from centinela.public.assistant.retrieval import confidence, default_index
from centinela.public.places import find_place
from centinela.reference import ubigeo as ref

CONFIDENCE_THRESHOLD = 0.33
MAX_CHARS = 1000

# Asking where to get treatment or help (answered by the service finder when a place is named).
_TREATMENT = re.compile(
    r"\b(tratamiento|tratarme|tratar mi|rehabilitacion|rehabilitarme|rehab|centros? de "
    r"(ayuda|rehabilitacion|tratamiento|salud mental|adicciones)|csmc|salud mental|adiccion(es)?|"
    r"me atiendo|atenderme|donde me atienden|desintoxicacion|internamiento|treatment|addiction "
    r"(help|services?|centers?|centres?)|mental health|hampi\w*)\b")
_WHERE = re.compile(r"\b(donde|a donde|adonde|where|cerca|cercanos?|cercanas?|near|en que|"
                    r"centros?|lugar(es)?|hay|maypi\w*)\b")

_FACILITY = re.compile(r"\b(hospital(es)?|clinicas?|centros? de (salud|atencion)|csmc|"
                       r"postas?|servicios? de salud|salud mental|me atiendo|atenderme|"
                       r"atienden|rehabilitacion|treatment (center|centre)s?|clinics?|"
                       r"mental health (services?|centers?|centres?)|services?|"
                       r"hampi\w* wasi\w*)\b")
_NEAR = re.compile(r"\b(cerca|cercanos?|cercanas?|nearest|near|close to|closest|donde|where|"
                   r"en|maypi\w*|qayllapi)\b")


@dataclass
class Answer:
    answer: str
    language: str
    kind: str  # red_flag, dose_refusal, locator, kb, fallback, empty
    confidence: float = 0.0
    red_flag: str | None = None
    sources: list[dict] = field(default_factory=list)
    entry_id: str | None = None
    title: str | None = None
    services: list[dict] = field(default_factory=list)
    note: str | None = None
    candidates: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the JSON shape of ``POST /api/v1/assistant/ask``."""
        return asdict(self)


def _kb_answer(entry: Entry, lang: str, conf: float, candidates: list[dict]) -> Answer:
    note = None
    if lang == "qu":
        if "qu" in entry.answer:
            note = msg.QU_PENDING
        else:
            note = msg.NO_QU
    return Answer(
        answer=entry.text(lang), language=lang, kind="kb", confidence=conf,
        sources=[dict(s) for s in entry.sources], entry_id=entry.id,
        title=entry.title.get(lang) or entry.title["es"], note=note, candidates=candidates,
    )


def _locator(session: Session, text: str, lang: str, now: dt.datetime) -> Answer | None:
    folded = fold(text)
    treatment = bool(_TREATMENT.search(folded))
    if not _FACILITY.search(folded) and not treatment:
        return None
    place = find_place(text)
    if place is None:
        if treatment and _WHERE.search(folded):
            from centinela.public.assistant.kb import by_id

            entry = by_id("treatment")
            return Answer(answer=entry.text(lang) + "\n\n" + msg.LOCATOR_ASK[lang],
                          language=lang, kind="locator", confidence=1.0,
                          sources=[dict(s) for s in entry.sources] + [msg.EMERGENCY_SOURCES[1]],
                          entry_id=entry.id, title=entry.title.get(lang) or entry.title["es"],
                          note=msg.QU_PENDING if lang == "qu" else None)
        if re.search(r"\b(cerca|cercan[oa]s?|nearest|near me|closest)\b", folded):
            return Answer(answer=msg.LOCATOR_ASK[lang], language=lang, kind="locator",
                          confidence=1.0, sources=list(msg.EMERGENCY_SOURCES[1:2]))
        return None
    if not _NEAR.search(folded) and not treatment:
        return None
    from centinela.public.directory import mental_health_nearby, nearest

    found = nearest(session, place, limit=3, now=now)
    specialised, note = (mental_health_nearby(session, place, now=now) if treatment
                         else ([], None))
    seen = {n.service.service_id for n in found}
    found = [n for n in specialised if n.service.service_id not in seen] + found
    d = ref.get(place)
    where = f"{d.district} ({d.province}, {d.department})" if d else place
    lines = [msg.LOCATOR_HEAD[lang].format(place=where)]
    for i, n in enumerate(found, 1):
        s = n.service
        phone = f" — tel. {s.phone}" if s.phone else ""
        lines.append(f"{i}. {s.name} ({s.institution}, {s.category or s.kind}) — "
                     f"{n.distance_km:.1f} km — {s.address}{phone}")
    if note:
        lines.append(note[lang] if lang in note else note["es"])
    lines.append(msg.LOCATOR_TAIL[lang])
    sources = sorted({(n.service.source, n.service.licence) for n in found})
    return Answer(
        answer="\n".join(lines), language=lang, kind="locator", confidence=1.0,
        sources=[{"org": src, "title": f"Licencia: {lic}"} for src, lic in sources],
        services=[n.as_dict() for n in found],
        note=msg.QU_PENDING if lang == "qu" else None,
    )


def ask(text: str, lang: str | None = None, session: Session | None = None,
        now: dt.datetime | None = None) -> Answer:
    """Answer ``text`` in ``lang`` (detected when None); ``session`` enables the locator."""
    raw = (text or "").strip()
    text = raw[:MAX_CHARS]
    language = lang if lang in LANGS else detect_language(text)
    if not text:
        return Answer(answer=msg.EMPTY[language], language=language, kind="empty")
    # Red flags look at the whole message (up to 4x the answerable length): a cry for help at
    # the end of a long message must not be cut off.
    flag = detect_red_flag(raw[: 4 * MAX_CHARS])
    if flag is not None:
        return Answer(
            answer=msg.RED_FLAG[flag.category][language], language=language, kind="red_flag",
            confidence=1.0, red_flag=flag.category, sources=list(msg.EMERGENCY_SOURCES),
            note=msg.QU_PENDING if language == "qu" else None,
        )
    if pet_exposure(raw[: 4 * MAX_CHARS]):
        # an animal, not a person: the emergency vet, and 106 only if a person touched it
        return Answer(answer=msg.PET[language], language=language, kind="pet", confidence=1.0,
                      sources=list(msg.EMERGENCY_SOURCES[:1]),
                      note=msg.QU_PENDING if language == "qu" else None)
    if is_legal_quantity_question(text):
        # "me detuvieron con 5 mg" is about the law, not a dose: answer with the tiers.
        return Answer(answer=legal_answer(text, language), language=language, kind="legal",
                      confidence=1.0, sources=list(LEGAL_SOURCES), entry_id="law_32250",
                      title="Ley N.° 32250", note=msg.QU_PENDING if language == "qu" else None)
    if is_dose_question(text):
        return Answer(answer=msg.DOSE_REFUSAL[language], language=language,
                      kind="dose_refusal", confidence=1.0,
                      sources=list(msg.EMERGENCY_SOURCES[:2]),
                      note=msg.QU_PENDING if language == "qu" else None)
    if session is not None:
        found = _locator(session, text, language,
                         now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
        if found is not None:
            return found
    query = without_quechua(text) if language == "qu" else text
    hits, coverage = default_index().search(query, k=3)
    conf = confidence(hits, coverage)
    candidates = [{"entry_id": h.entry.id, "score": round(h.score, 3)} for h in hits]
    if hits and conf >= CONFIDENCE_THRESHOLD:
        answer = _kb_answer(hits[0].entry, language, conf, candidates)
        if answer.entry_id == "law_32250":
            from centinela.public.assistant.legal import tiers_text

            answer.answer += "\n\n" + tiers_text(language)
        return answer
    return Answer(answer=msg.FALLBACK[language], language=language, kind="fallback",
                  confidence=conf, sources=list(msg.EMERGENCY_SOURCES[1:2]),
                  candidates=candidates,
                  note=msg.QU_PENDING if language == "qu" else None)
