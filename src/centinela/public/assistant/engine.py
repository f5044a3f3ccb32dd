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
from centinela.public.assistant.polarity import lead
from centinela.public.assistant.redflags import (
    IDIOMS,
    asks_about_remedy,
    mentions_patch,
    pet_exposure,
    speaks_of_other,
    speaks_of_self,
)
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
    r"help to) (\w+ )?(dejar|salir de|quit|stop using|get clean)|desintoxicarme|"
    # a place or help "to quit" ("¿hay centros para dejar la metadona?"), or quitting a drug,
    # a substitute or the habit ("dejar la metadona", "get off methadone"); not "dejar" alone,
    # which is also where to leave used patches
    r"(centros?|lugar(es)?|sitios?|clinicas?|programas?|ayuda|apoyo|tratamiento|alguien|"
    r"places?|programs?|programmes?|clinics?|help|support) (para|to|that help (me |people )?"
    r"(to )?) ?(dejar|salir de|desintoxic\w*|quit|stop using|get off|come off)|"
    r"(dejar|salir de) (de )?(la |las |el |los |mi |mis |su |sus )?(metadona|drogas?|"
    r"fentanil\w*|fenta|consumo|consumir|adiccion|vicio|opioides?|heroina|drogarme|jalar|"
    r"inyectarme)|(quit|get off|come off|taper off|kick) (the |my )?(methadone|drugs?|"
    r"fentanyl|opioids?|heroin|habit))\b")
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


def in_spanish_for_quechua(text: str) -> str:
    """A Spanish answer to a Quechua question: said so in Quechua first, the emergency numbers
    in Quechua after it."""
    return f"{msg.QU_IN_SPANISH_HEAD}\n\n{text}\n\n{msg.QU_EMERGENCY_TAIL}"


def _kb_answer(entry: Entry, lang: str, conf: float, candidates: list[dict],
               question: str = "") -> Answer:
    note = _note(lang)
    text = entry.text(lang)
    # A yes/no that agrees with the question ("¿es delito …?" → "Sí."), or none at all.
    yes_no = lead(entry.yes_no, question, lang if lang in entry.answer else "es")
    if yes_no:
        text = f"{yes_no} {text}"
    if lang == "qu" and "qu" not in entry.answer:
        note = msg.NO_QU
        text = in_spanish_for_quechua(text)
    return Answer(
        answer=text, language=lang, kind="kb", confidence=conf,
        sources=[dict(s) for s in entry.sources], entry_id=entry.id,
        title=entry.title.get(lang) or entry.title["es"], note=note, candidates=candidates,
    )


_SPECIALISED_LABEL = {
    "csmc": {"es": "centro de salud mental comunitario", "en": "community mental-health centre",
             "qu": "CSMC"},
    "addiction": {"es": "hospital psiquiátrico con servicio de adicciones",
                  "en": "psychiatric hospital with an addiction service"},
}


def _service_label(service, lang: str) -> str:
    """What a listed service is, said so that a mental-health or addiction service stands
    out from a general hospital (IPRESS category such as "II-1" otherwise)."""
    from centinela.public.directory import MENTAL_HEALTH_IPRESS

    if service.kind == "csmc":
        return msg.text(_SPECIALISED_LABEL["csmc"], lang)
    if service.service_id in MENTAL_HEALTH_IPRESS:
        return msg.text(_SPECIALISED_LABEL["addiction"], lang)
    return service.category or service.kind


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

    note = None
    if treatment:
        # Addiction and treatment questions: community mental-health centres (CSMC) and the
        # addiction services the directory knows come first; general hospitals only fill up
        # the list (at least the nearest one stays, for an emergency).
        specialised, note = mental_health_nearby(session, place, now=now, limit=3)
        ids = {n.service.service_id for n in specialised}
        general = [n for n in nearest(session, place, limit=3 + len(ids), now=now)
                   if n.service.service_id not in ids]
        found = specialised + general[: max(1, 3 - len(specialised))]
    else:
        found = nearest(session, place, limit=3, now=now)
    d = ref.get(place)
    where = f"{d.district} ({d.province}, {d.department})" if d else place
    lines = [msg.text(msg.LOCATOR_HEAD, lang).format(place=where)]
    for i, n in enumerate(found, 1):
        s = n.service
        phone = f" — tel. {s.phone}" if s.phone else ""
        lines.append(f"{i}. {s.name} ({s.institution}, {_service_label(s, lang)}) — "
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


def red_flag_text(category: str, message: str, language: str) -> str:
    """The crisis answer to ``message``: the category's message, said to the helper when the
    message is about someone else (with what not to do, first when a home remedy is asked
    about: "¿le echo agua?"), to the person when they describe their own overdose, with the
    patch removed first when a patch is named. Every channel (chat, API, Telegram, SMS, the
    report form) answers an emergency with this text."""
    text = msg.text(msg.RED_FLAG[category], language)
    if category == "overdose":
        if speaks_of_other(message):
            remedy = (msg.text(msg.REMEDY_FIRST, language) + " "
                      if asks_about_remedy(message) else "")
            text = msg.text(msg.OVERDOSE_HELPER, language).format(remedy=remedy)
        elif speaks_of_self(message):
            text = msg.text(msg.OVERDOSE_SELF, language)
        if mentions_patch(message):
            text += " " + msg.text(msg.PATCH_OFF, language)
    return text


def _red_flag_answer(category: str, message: str, language: str) -> Answer:
    """Return the crisis answer to ``message`` (see :func:`red_flag_text`)."""
    return Answer(answer=red_flag_text(category, message, language), language=language,
                  kind="red_flag", confidence=1.0, red_flag=category,
                  sources=list(msg.EMERGENCY_SOURCES), note=_note(language, translated=True))


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
        legal = legal_answer(text, language)
        if language == "qu":  # the tiers exist in Spanish and English only
            legal = in_spanish_for_quechua(legal)
        return Answer(answer=legal, language=language, kind="legal",
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
        answer = _kb_answer(hits[0].entry, language, conf, candidates, question=text)
        if answer.entry_id == "law_32250":
            from centinela.public.assistant.legal import tiers_text

            answer.answer += "\n\n" + tiers_text(language)
        return answer
    return Answer(answer=msg.text(msg.FALLBACK, language), language=language, kind="fallback",
                  confidence=conf, sources=list(msg.EMERGENCY_SOURCES[1:2]),
                  candidates=candidates, note=_note(language, translated=True))
