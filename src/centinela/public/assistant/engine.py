"""Answer one user message: red flags first, then dose refusal, treatment locator, knowledge
base (with a confidence threshold) or an honest fallback. Never a diagnosis or a dose."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from centinela.lib.text import fold_keep_enye as fold
from centinela.public.assistant import messages as msg
from centinela.public.assistant.dose import (
    is_dose_question,
    is_naloxone_question,
    is_nonmedical,
)
from centinela.public.assistant.kb import Entry, by_id
from centinela.public.assistant.language import (
    LANGS,
    detect_language,
    is_portuguese,
    without_quechua,
)
from centinela.public.assistant.legal import (
    LEGAL_SOURCES,
    is_legal_quantity_question,
    is_legal_situation,
    legal_answer,
)
from centinela.public.assistant.redflags import IDIOMS, mentions_patch, pet_exposure, speaks_of_self
from centinela.public.assistant.redflags import detect as detect_red_flag
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
    r"(help|services?|centers?|centres?)|mental health|hampi\w*|"
    # wanting to quit is asking for treatment ("ayuda para dejar las drogas, vivo en Arequipa")
    r"(quiero|necesito|quisiera|ayuda para|ayudame a|como hago para|want to|need to|help me|"
    r"help to) (\w+ )?(dejar|salir de|quit|stop using|get clean)|desintoxicarme)\b")
_WHERE = re.compile(r"\b(donde|a donde|adonde|where|cerca|cercanos?|cercanas?|near|en que|"
                    r"centros?|lugar(es)?|hay|maypi\w*)\b")

_FACILITY = re.compile(r"\b(hospital(es)?|clinicas?|centros? de (salud|atencion)|csmc|"
                       r"postas?|servicios? de salud|salud mental|me atiendo|atenderme|"
                       r"atienden|rehabilitacion|treatment (center|centre)s?|clinics?|"
                       r"mental health (services?|centers?|centres?)|services?|"
                       r"hampi\w* wasi\w*)\b")
# Another subject that shares a word with the knowledge base ("la mejor receta de ceviche"):
# with no word of the assistant's subjects, the honest fallback.
_OFF_TOPIC = re.compile(
    r"\b(ceviche|cocina|cocinar|recipes?|comida|postres?|tortas?|pastel|pollo|lomo saltado|"
    r"arroz|ingredientes|almuerzo|cena|desayuno|futbol|partido|goles?|clima|weather|dolar|"
    r"tipo de cambio|chistes?|jokes?|windows|peliculas?|movies?|canciones?|songs?|"
    r"horoscopo|capital de)\b")
_DOMAIN = re.compile(
    r"\b(fentanil\w*|fenta|fentanyl|opioid\w*|opiace\w*|drogas?|drugs?|medic\w*|pastillas?|"
    r"pills?|parches?|patch\w*|ampollas?|sobredosis|overdos\w*|naloxon\w*|narcan|denunci\w*|"
    r"report\w*|adicc\w*|addict\w*|tratamiento|treatment|morfina|morphine|tramadol|codein\w*|"
    r"oxicodona|oxy\w*|metadona|farmacias?|boticas?|pharmac\w*|salud|health|hospital\w*|csmc|"
    r"ley|law|carcel|pena|embaraz\w*|pregnan\w*|dolor|pain|abstinencia|withdrawal|consum\w*|"
    r"receta medica|receta especial|prescri\w*|jeringas?|agujas?|syring\w*)\b")
_LAUGHTER = re.compile(r"\b(?:(?:ja|je|ji|ha|he|jo){2,}\w?|jsj\w*|lol|xd+|lmao)\b")
_CLAUSES = re.compile(r"[,.;:!?¿¡\n]+")

_NEAR = re.compile(r"\b(cerca|cercanos?|cercanas?|nearest|near|close to|closest|donde|where|"
                   r"en|maypi\w*|qayllapi)\b")


@dataclass
class Answer:
    answer: str
    language: str
    kind: str  # red_flag, pet, legal, dose_refusal, locator, kb, fallback, empty
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


def _note(lang: str, translated: bool = False) -> str | None:
    """The notice an answer in ``lang`` carries: Quechua pending review; for Portuguese, that
    the answer is in Spanish (unless it is one of the ``translated`` fixed messages)."""
    if lang == "pt":
        return None if translated else msg.PT_NOTE
    return msg.QU_PENDING if lang == "qu" else None


def _kb_answer(entry: Entry, lang: str, conf: float, candidates: list[dict]) -> Answer:
    note = _note(lang)
    if lang == "qu" and "qu" not in entry.answer:
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
    place = find_place(text, prefer_department=True)
    if place is None:
        if treatment and _WHERE.search(folded):
            entry = by_id("treatment")
            return Answer(answer=entry.text(lang) + "\n\n" + msg.text(msg.LOCATOR_ASK, lang),
                          language=lang, kind="locator", confidence=1.0,
                          sources=[dict(s) for s in entry.sources] + [msg.EMERGENCY_SOURCES[1]],
                          entry_id=entry.id, title=entry.title.get(lang) or entry.title["es"],
                          note=_note(lang))
        if re.search(r"\b(cerca|cercan[oa]s?|nearest|near me|closest)\b", folded):
            return Answer(answer=msg.text(msg.LOCATOR_ASK, lang), language=lang, kind="locator",
                          confidence=1.0, sources=list(msg.EMERGENCY_SOURCES[1:2]),
                          note=_note(lang))
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
    lines = [msg.text(msg.LOCATOR_HEAD, lang).format(place=where)]
    for i, n in enumerate(found, 1):
        s = n.service
        phone = f" — tel. {s.phone}" if s.phone else ""
        lines.append(f"{i}. {s.name} ({s.institution}, {s.category or s.kind}) — "
                     f"{n.distance_km:.1f} km — {s.address}{phone}")
    if note:
        lines.append(note[lang] if lang in note else note["es"])
    lines.append(msg.text(msg.LOCATOR_TAIL, lang))
    sources = sorted({(n.service.source, n.service.licence) for n in found})
    return Answer(
        answer="\n".join(lines), language=lang, kind="locator", confidence=1.0,
        sources=[{"org": src, "title": f"Licencia: {lic}"} for src, lic in sources],
        services=[n.as_dict() for n in found],
        note=_note(lang),
    )


def _red_flag_answer(category: str, message: str, language: str) -> Answer:
    """The crisis answer: the category's message, said to the person when they describe their
    own overdose, with the patch removed first when a patch is named."""
    text = msg.text(msg.RED_FLAG[category], language)
    if category == "overdose":
        if speaks_of_self(message):
            text = msg.text(msg.OVERDOSE_SELF, language)
        if mentions_patch(message):
            text += " " + msg.text(msg.PATCH_OFF, language)
    return Answer(answer=text, language=language, kind="red_flag", confidence=1.0,
                  red_flag=category, sources=list(msg.EMERGENCY_SOURCES),
                  note=_note(language, translated=True))


def _search(query: str) -> tuple[list, float]:
    hits, coverage = default_index().search(query, k=3)
    return hits, confidence(hits, coverage)


def _retrieve(query: str) -> tuple[list, float]:
    """Search the whole question; when that is not confident, the question without figures of
    speech and laughter, then each clause that names a subject of the assistant ("me muero de
    risa con este bot jaja, ¿qué es el narcan?" → "qué es el narcan"): chatter around a
    question must not hide it."""
    hits, conf = _search(query)
    if conf >= CONFIDENCE_THRESHOLD:
        return hits, conf
    cleaned = _LAUGHTER.sub(" ", IDIOMS.sub(" ", fold(query)))
    # a clause alone must name one of the assistant's subjects ("¿qué es el narcan?")
    tries = [cleaned] + [c for c in _CLAUSES.split(cleaned) if _DOMAIN.search(c)]
    for part in dict.fromkeys(t.strip() for t in tries):
        if not part or part == fold(query).strip():
            continue
        h, c = _search(part)
        if c >= CONFIDENCE_THRESHOLD and c > conf:
            hits, conf = h, c
    return hits, conf


def ask(text: str, lang: str | None = None, session: Session | None = None,
        now: dt.datetime | None = None) -> Answer:
    """Answer ``text`` in ``lang`` (detected when None); ``session`` enables the locator.

    A Portuguese question (detected, never requested) gets the crisis, dose and fallback
    messages in Portuguese and knowledge-base answers in Spanish with a note saying so.
    """
    raw = (text or "").strip()
    text = raw[:MAX_CHARS]
    language = lang if lang in LANGS else detect_language(text)
    if lang not in LANGS and is_portuguese(text):
        language = "pt"
    if not text:
        return Answer(answer=msg.text(msg.EMPTY, language), language=language, kind="empty")
    # Red flags look at the whole message (up to 4x the answerable length): a cry for help at
    # the end of a long message must not be cut off.
    flag = detect_red_flag(raw[: 4 * MAX_CHARS])
    if flag is not None:
        return _red_flag_answer(flag.category, raw[: 4 * MAX_CHARS], language)
    if pet_exposure(raw[: 4 * MAX_CHARS]):
        # an animal, not a person: the emergency vet, and 106 only if a person touched it
        return Answer(answer=msg.text(msg.PET, language), language=language, kind="pet",
                      confidence=1.0, sources=list(msg.EMERGENCY_SOURCES[:1]),
                      note=_note(language, translated=True))
    if is_legal_quantity_question(text) or is_legal_situation(text):
        # "me detuvieron con 5 mg" is about the law, not a dose: answer with the tiers.
        return Answer(answer=legal_answer(text, language), language=language, kind="legal",
                      confidence=1.0, sources=list(LEGAL_SOURCES), entry_id="law_32250",
                      title="Ley N.° 32250", note=_note(language))
    if is_dose_question(text):
        if is_naloxone_question(text):
            # "¿cuánta naloxona le pongo?" is asked in an emergency: the steps, not a refusal
            entry = by_id("overdose_response")
            return _kb_answer(entry, language, 1.0, [{"entry_id": entry.id, "score": 1.0}])
        refusal = msg.DOSE_REFUSAL_NONMEDICAL if is_nonmedical(text) else msg.DOSE_REFUSAL
        return Answer(answer=msg.text(refusal, language), language=language,
                      kind="dose_refusal", confidence=1.0,
                      sources=list(msg.EMERGENCY_SOURCES[:2]),
                      note=_note(language, translated=True))
    if session is not None:
        found = _locator(session, text, language,
                         now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
        if found is not None:
            return found
    folded = fold(text)
    off_topic = bool(_OFF_TOPIC.search(folded)) and not _DOMAIN.search(folded)
    if language == "qu":
        index = default_index()
        query = without_quechua(text, known=index.knows)
    else:
        query = text
    hits, conf = ([], 0.0) if off_topic else _retrieve(query)
    candidates = [{"entry_id": h.entry.id, "score": round(h.score, 3)} for h in hits]
    if hits and conf >= CONFIDENCE_THRESHOLD:
        answer = _kb_answer(hits[0].entry, language, conf, candidates)
        if answer.entry_id == "law_32250":
            from centinela.public.assistant.legal import tiers_text

            answer.answer += "\n\n" + tiers_text(language)
        return answer
    return Answer(answer=msg.text(msg.FALLBACK, language), language=language, kind="fallback",
                  confidence=conf, sources=list(msg.EMERGENCY_SOURCES[1:2]),
                  candidates=candidates, note=_note(language, translated=True))
