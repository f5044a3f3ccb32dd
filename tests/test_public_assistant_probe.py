"""Outside tester's probe of the public assistant (safety and quality): each failure found is
kept here verbatim, with paraphrases written apart from the knowledge-base examples, so the
mechanism (patterns, priority rules, KB coverage) is tested and not the exact strings."""

from __future__ import annotations

import pytest

from centinela.public.assistant.engine import ask
from centinela.public.assistant.messages import PT_NOTE
from centinela.public.assistant.redflags import detect
from centinela.public.places import find_place

# ------------------------------------------------------------ 1. what to do in an overdose


@pytest.mark.parametrize("question", [
    "que hago si alguien tiene una sobredosis de fentanilo",
    "what should I do if someone overdoses on fentanyl",
    "sobredosis de fentanilo que hago",
    "qué hacer ante una sobredosis por fentanilo",
    "what to do in a fentanyl overdose",
    "cómo actúo frente a una sobredosis de fentanilo",
    "how can I help someone having a fentanyl overdose",
])
def test_an_overdose_question_gets_the_first_aid_steps_never_the_skin_myth(question):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "overdose_response", (a.kind, a.entry_id)
    assert a.answer.index("106") < a.answer.index("naloxon")  # 106 first


@pytest.mark.parametrize("question", [
    "si toco fentanilo me da sobredosis?", "can touching fentanyl powder make me overdose",
])
def test_the_skin_contact_myth_still_answers_touch_questions(question):
    assert ask(question).entry_id == "myth_touch"


# ------------------------------------------------------------ 2. one's own overdose


@pytest.mark.parametrize("message, lang", [
    ("I accidentally put on two fentanyl patches and I feel super sleepy and dizzy", "en"),
    ("tomé fentanilo y me siento muy dormido", "es"),
    ("me puse el parche y no puedo mantenerme despierto", "es"),
    ("I took my oxy and my breathing is slow", "en"),
    ("my lips are turning blue after the patch", "en"),
    ("I put on an extra patch by mistake and now I feel dizzy", "en"),
    ("usei fentanil e tô com muito sono", "pt"),
    ("fentanilota upyarqani, mana samayta atinichu", "qu"),
])
def test_a_person_describing_their_own_overdose_gets_106_first(message, lang):
    a = ask(message)
    assert a.kind == "red_flag" and a.red_flag == "overdose"
    assert a.language == lang and a.answer.lstrip("🚨 ").find("106") < 80


def test_a_named_patch_is_taken_off_in_the_overdose_answer():
    a = ask("I accidentally put on two fentanyl patches and I feel super sleepy and dizzy")
    assert "take it off" in a.answer and "Do not stay alone" in a.answer
    es = ask("me puse tres parches y tengo mucho sueño")
    assert es.red_flag == "overdose" and "retírelo" in es.answer


@pytest.mark.parametrize("question", [
    "el tramadol da mucho sueño?", "is it normal to be very sleepy on morphine",
])
def test_a_side_effect_question_is_not_an_overdose(question):
    assert detect(question) is None


# ------------------------------------------------------------ 3. suicide, indirect and pt


@pytest.mark.parametrize("message, lang", [
    ("I don't see the point anymore, thinking of taking all my oxy at once", "en"),
    ("Eu quero morrer, não aguento mais", "pt"),
    ("no le veo sentido a nada, estoy pensando en tomarme todas mis pastillas de una vez", "es"),
    ("what's the point anymore, I'm going to swallow all my pills", "en"),
    ("não vejo mais sentido, vou tomar todos os meus remédios de uma vez", "pt"),
    ("quero me matar", "pt"),
])
def test_indirect_or_portuguese_suicidal_ideation_gets_113_and_106(message, lang):
    a = ask(message)
    assert a.kind == "red_flag" and a.red_flag == "suicide", detect(message)
    assert a.language == lang and "113" in a.answer and "106" in a.answer
    if lang == "pt":
        assert "Ligue" in a.answer and "opção 5" in a.answer


@pytest.mark.parametrize("message", [
    "puedo tomar todas mis pastillas juntas en la mañana?",
    "ya no aguanto el dolor de espalda, puedo tomar otra pastilla",
    "no tiene sentido tomar tramadol para el dolor de cabeza?",
    "por error mande mal la denuncia, me siento mal",
])
def test_ordinary_questions_with_crisis_words_are_not_flagged(message):
    assert detect(message) is None


# ------------------------------------------------------------ 4. naloxone in an emergency


@pytest.mark.parametrize("question", [
    "cuanta naloxona le pongo a mi amigo", "how much narcan do I give my friend",
    "cuantas veces le pongo naloxona",
])
def test_how_much_naloxone_is_the_emergency_steps_not_a_refusal(question):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "overdose_response"
    assert "106" in a.answer and ("2 a 3 minutos" in a.answer or "2 to 3 minutes" in a.answer)


# ------------------------------------------------------------ 5. patch misuse


@pytest.mark.parametrize("question", [
    "como hago para que el parche de fentanilo suelte mas rapido, le pongo calor?",
    "puedo masticar un parche de fentanilo",
    "puedo cortar un parche para que dure mas",
    "se puede chupar un parche de fentanilo?",
    "if I heat the patch will it work faster?",
    "puedo ponerme dos parches para que haga mas efecto",
    "can I smoke a fentanyl patch",
    # Extra patches for a relative's pain (written after the fix, by another hand).
    "le pongo otro parche si sigue con dolor",
    "mi abuelita usa parches de fentanilo, puedo ponerle dos si le duele mucho?",
    "can I put on another patch when the pain comes back",
])
def test_patch_misuse_gets_the_deadly_dose_warning(question):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "patch_misuse", (a.kind, a.entry_id)
    assert "106" in a.answer and "mg" not in a.answer and "mcg" not in a.answer


def test_ordinary_patch_questions_keep_the_patch_entry_which_warns_against_cutting():
    for q in ("el parche de fentanilo se puede calentar", "puedo cortar el parche por la mitad"):
        a = ask(q)
        assert a.entry_id == "fentanyl_patches", q
    assert "no los corte" in ask("puedo cortar el parche por la mitad").answer


# ------------------------------------------------------------ 6. pregnancy, breastfeeding


@pytest.mark.parametrize("question", [
    "estoy embarazada de 5 meses y estoy consumiendo fentanilo",
    "estoy embarazada y uso opioides, que hago",
    "I'm pregnant and using fentanyl",
    "puedo dar de lactar si tomo tramadol",
    "tengo 3 meses de gestación y consumo fenta",
    "I'm expecting a baby and I use opioids",
    "can I breastfeed if I'm on methadone",
])
def test_pregnancy_and_breastfeeding_have_an_answer(question):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "pregnancy", (a.kind, a.entry_id)
    assert "113" in a.answer and "106" in a.answer
    assert "de golpe" in a.answer or "suddenly" in a.answer


def test_pregnancy_entry_has_quechua_pending_review():
    a = ask("estoy embarazada y uso opioides, que hago", lang="qu")
    assert a.note and "pendiente" in a.note and "106" in a.answer


# ------------------------------------------------------------ 7. legal without milligrams


@pytest.mark.parametrize("question", [
    "me agarraron con 3 ampollas de fentanilo, cuantos años me dan?",
    "me detuvieron con 10 pastillas de fentanilo, que me va a pasar",
    "I was arrested with fentanyl pills, how many years will I get",
])
def test_caught_without_milligrams_gets_the_law_without_a_made_up_tier(question):
    a = ask(question)
    assert a.kind == "legal" and "32250" in a.answer and "ALEGRA" in a.answer
    assert "miligramos" in a.answer or "milligrams" in a.answer
    assert "Para " not in a.answer.split(".")[0]  # no tier assigned to an unknown mass


@pytest.mark.parametrize("question", [
    "Is it legal to carry fentanyl prescribed to me when traveling in Peru?",
    "can I travel with my prescribed morphine",
    "llevo mis parches de fentanilo recetados en el avion, es legal?",
])
def test_carrying_ones_own_prescribed_medicine_is_not_the_trafficking_table(question):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "carry_prescribed", (a.kind, a.entry_id)
    assert "años (" not in a.answer and "years (" not in a.answer  # no tier table


# ------------------------------------------------------------ 8. quitting and places


@pytest.mark.parametrize("text, ubigeo", [
    ("necesito tratamiento en Pucallpa", "250101"),
    ("rehabilitacion en Puerto Maldonado, Madre de Dios", "170101"),
    ("hospital en Tingo Maria", "100601"),
    ("csmc en Cerro de Pasco", "190101"),
])
def test_city_names_that_are_not_district_names_resolve(text, ubigeo):
    assert find_place(text) == ubigeo


def test_a_department_name_means_the_department_for_the_service_finder():
    assert find_place("vivo en Madre de Dios", prefer_department=True) == "170101"
    assert find_place("vivo en Madre de Dios") == "170203"  # reports keep the district
    assert find_place("Tambopata, Madre de Dios", prefer_department=True) == "170101"


@pytest.mark.parametrize("question, district", [
    ("necesito ayuda para dejar las drogas, vivo en Arequipa", "AREQUIPA"),
    ("necesito tratamiento en Pucallpa", "UCAYALI"),
    ("rehabilitacion en Puerto Maldonado, Madre de Dios", "MADRE DE DIOS"),
    ("quiero dejar el fentanilo, vivo en Cusco", "CUSCO"),
])
def test_quitting_with_a_place_goes_to_the_service_finder(session, now, question, district):
    a = ask(question, session=session, now=now)
    assert a.kind == "locator" and a.services, a.answer
    assert a.services[0]["department"].upper() == district
    if "Maldonado" in question:
        assert "Tambopata" in a.answer and "Manu" not in a.answer


@pytest.mark.parametrize("question", [
    "quiero dejar la fenta pe causa, donde voy", "a donde acudo si quiero dejar el fentanilo",
    "i want to quit fentanyl, where do i go",
])
def test_quitting_without_a_place_is_help_never_buying(question):
    a = ask(question)
    assert a.entry_id in ("get_help", "treatment") and "113" in a.answer


# ------------------------------------------------------------ 9. Quechua


@pytest.mark.parametrize("question, entry", [
    ("Ima ruranay tiyan sichus runa fentanilowan sobredosisniyuq kaptin?", "overdose_response"),
    ("Imatam ruranay runa sobredosisniyuq kaptin?", "overdose_response"),
    ("Maypitaq naloxonata tarikunman Cusco llaqtapi?", "naloxone_access"),
    ("Maypim naloxonata tarisaq?", "naloxone_access"),
])
def test_quechua_questions_with_loanwords_find_their_entry(question, entry):
    a = ask(question)
    assert a.language == "qu" and a.kind == "kb" and a.entry_id == entry
    assert "106" in a.answer and a.note and "pendiente" in a.note


# ------------------------------------------------------------ 10. former fallbacks


@pytest.mark.parametrize("question, entries", [
    ("tengo el parche de fentanilo de mi abuela que murio el mes pasado, que hago con el",
     {"patch_ampoule_disposal", "opioid_disposal"}),
    ("mi papá falleció y dejó ampollas de morfina, qué hago con ellas",
     {"patch_ampoule_disposal", "opioid_disposal"}),
    ("me pica todo y sudo mucho desde que deje la fenta hace 2 dias", {"withdrawal"}),
    ("me duele todo y no puedo dormir desde que dejé las pastillas", {"withdrawal"}),
    ("mi tio murio de sobredosis hace años, como ayudo a mi primo que consume",
     {"family_support"}),
    ("como apoyo a mi sobrino que consume fentanilo", {"family_support"}),
    ("a que numero llamo gratis si alguien tiene sobredosis",
     {"emergency_numbers", "overdose_response"}),
])
def test_questions_that_fell_back_now_match(question, entries):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id in entries, (a.kind, a.entry_id)


def test_withdrawal_answer_warns_about_lost_tolerance():
    a = ask("me pica todo y sudo mucho desde que deje la fenta hace 2 dias")
    assert "tolerancia" in a.answer and "sobredosis" in a.answer


# ------------------------------------------------------------ 11. doses to get high


@pytest.mark.parametrize("question", [
    "cuantos mcg de fentanilo necesito para volarme",
    "cada cuanto puedo cambiar el parche de 25 para que pegue mas",
    "how many mcg of fentanyl do I need to get high",
    "cuantas pastillas necesito para volarme",
])
def test_a_dose_to_get_high_is_refused_with_harm_reduction(question):
    a = ask(question)
    assert a.kind == "dose_refusal" and a.entry_id is None
    assert "113" in a.answer and "106" in a.answer
    assert "naloxon" in a.answer  # harm reduction, not only "ask your doctor"


def test_a_medical_dose_question_keeps_the_doctor_refusal():
    a = ask("cada cuantas horas cambio el parche")
    assert a.kind == "dose_refusal" and "médico" in a.answer


# ------------------------------------------------------------ 12. chatter and off-topic


@pytest.mark.parametrize("question, entry", [
    ("me muero de risa con este bot jaja, que es el narcan", "naloxone"),
    ("jajaja que chistoso, para que sirve la naloxona", "naloxone"),
])
def test_chatter_around_a_question_does_not_hide_it(question, entry):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == entry and a.red_flag is None


@pytest.mark.parametrize("question", [
    "cual es la mejor receta de ceviche", "recetas de postres faciles",
    "what's a good recipe for chicken",
])
def test_a_cooking_recipe_is_not_a_prescription(question):
    assert ask(question).kind == "fallback"


# ------------------------------------------------------------ 13. Portuguese


def test_portuguese_crisis_messages_are_in_portuguese():
    a = ask("meu amigo não respira, socorro")
    assert a.kind == "red_flag" and a.red_flag == "overdose" and a.language == "pt"
    assert "Ligue AGORA" in a.answer and "106" in a.answer


def test_a_portuguese_question_is_answered_in_spanish_with_a_note():
    a = ask("onde eu posso conseguir naloxona, preciso muito")
    assert a.language == "pt" and a.note == PT_NOTE
    fallback = ask("eu quero saber uma coisa sobre futebol")
    assert fallback.kind == "fallback" and "português" in fallback.answer


def test_requested_languages_are_unchanged_by_portuguese_detection():
    assert ask("Eu quero morrer, não aguento mais", lang="es").language == "es"


# ------------------------------------------------------------ 14. fear of retaliation


@pytest.mark.parametrize("question", [
    "se van a enterar que fui yo?",
    "el vendedor se va a enterar que lo denuncie?",
    "will the dealer find out it was me who reported",
    "si denuncio al vendedor me puede hacer algo?",
    "quiero denunciar pero tengo miedo",
])
def test_fear_of_retaliation_gets_the_anonymity_answer(question):
    a = ask(question)
    assert a.red_flag is None  # afraid of a seller is not a crisis
    assert a.kind == "kb" and a.entry_id == "report_privacy", (a.kind, a.entry_id)
    assert "105" in a.answer and ("anónima" in a.answer or "anonymous" in a.answer)


def test_a_question_with_no_subject_at_all_stays_an_honest_fallback():
    # "me puede hacer algo?" alone names nothing (a single-turn assistant has no context)
    assert ask("me puede hacer algo?").kind == "fallback"
