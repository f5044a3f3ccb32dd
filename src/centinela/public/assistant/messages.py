"""Fixed safety messages of the assistant in Spanish, English and Quechua (Quechua pending
certified translation review)."""

from __future__ import annotations

QU_PENDING = ("[Runasimi: pendiente de revisión de traducción certificada / "
              "pending certified translation review]")

EMERGENCY_SOURCES = [
    {"org": "MINSA", "title": "SAMU — Sistema de Atención Móvil de Urgencia (106)"},
    {"org": "MINSA", "title": "Línea 113 Salud — opción 5: salud mental y adicciones"},
    {"org": "Policía Nacional del Perú", "title": "Central de emergencias 105"},
]

RED_FLAG: dict[str, dict[str, str]] = {
    "overdose": {
        "es": "🚨 Esto puede ser una sobredosis. Llame AHORA al 106 (SAMU). Quédese con la "
              "persona; si respira, póngala de costado; si tiene naloxona, úsela; siga las "
              "indicaciones del operador. Policía: 105. Salud mental y adicciones: Línea 113, "
              "opción 5.",
        "en": "🚨 This may be an overdose. Call 106 (SAMU) NOW. Stay with the person; if they "
              "are breathing, turn them on their side; if you have naloxone, use it; follow the "
              "operator's instructions. Police: 105. Mental health and addictions: Línea 113, "
              "option 5.",
        "qu": "🚨 Sobredosismi kanman. KUNAN 106 (SAMU) nisqaman waqyay. Runawan qhipakuy; "
              "samachkaptinqa waqtanman siriykachiy; naloxona kaptinqa churay. Policía: 105. "
              "Línea 113, 5 kaqta akllay.",
    },
    "suicide": {
        "es": "💛 Lo que siente importa y no está solo/a. Llame ahora a la Línea 113, opción 5 "
              "(salud mental, gratuita, las 24 horas). Si corre peligro inmediato, llame al 106 "
              "(SAMU) o al 105 (Policía). Si puede, pida a alguien de confianza que se quede con "
              "usted.",
        "en": "💛 What you feel matters and you are not alone. Call Línea 113, option 5 now "
              "(mental health, free, 24 hours). If you are in immediate danger, call 106 (SAMU) "
              "or 105 (Police). If you can, ask someone you trust to stay with you.",
        "qu": "💛 Mana sapallaykichu kanki. Kunan 113 nisqaman waqyay, 5 kaqta akllay (umanpi "
              "qhali kay, mana qullqiyuq, 24 horas). Usqhaylla kaptinqa 106 (SAMU) utaq 105 "
              "(Policía) nisqaman waqyay.",
    },
    "emergency": {
        "es": "🚨 Si es una emergencia, llame AHORA al 106 (SAMU) para atención médica o al 105 "
              "(Policía) si hay peligro. Bomberos: 116. Salud mental y adicciones: Línea 113, "
              "opción 5.",
        "en": "🚨 If this is an emergency, call 106 (SAMU) NOW for medical help or 105 (Police) "
              "if there is danger. Fire brigade: 116. Mental health and addictions: Línea 113, "
              "option 5.",
        "qu": "🚨 Usqhaylla kaptinqa KUNAN 106 (SAMU) nisqaman waqyay, utaq 105 (Policía) "
              "nisqaman. Bomberos: 116. Línea 113, 5 kaqta akllay.",
    },
    "child": {
        "es": "🚨 Llame AHORA al 106 (SAMU), aunque el niño parezca estar bien: una sola pastilla "
              "o un parche de opioide puede ser mortal para un niño. Retire lo que tenga en la "
              "boca o pegado en la piel, no provoque el vómito y no lo deje solo. Policía: 105.",
        "en": "🚨 Call 106 (SAMU) NOW, even if the child seems fine: a single opioid pill or "
              "patch can kill a child. Remove anything in their mouth or stuck to their skin, do "
              "not make them vomit and do not leave them alone. Police: 105.",
        "qu": "🚨 KUNAN 106 (SAMU) nisqaman waqyay, wawa allinlla rikchakuptinpas: huk "
              "pastillallapas wawapaq wañuchikuqmi. Siminmanta hurquy, ama sapallanta saqiychu.",
    },
}

# A pet that ate an opioid: the emergency vet (not a person's red flag).
PET = {
    "es": "🚨 Lleve AHORA a su mascota a una veterinaria de emergencia, aunque parezca estar "
          "bien: un parche (incluso usado) o una pastilla de opioide puede matar a un perro o "
          "a un gato. Retire con guantes o una bolsa lo que tenga en la boca o pegado al "
          "pelo, no le provoque el vómito y lleve el envase o el parche. Si una persona lo "
          "tocó o se siente mal: 106 (SAMU).",
    "en": "🚨 Take your pet to an emergency vet NOW, even if it seems fine: an opioid patch "
          "(even a used one) or pill can kill a dog or a cat. Remove with gloves or a bag "
          "anything in its mouth or stuck to its fur, do not make it vomit, and bring the "
          "package or patch. If a person touched it or feels unwell: 106 (SAMU).",
    "qu": "🚨 KUNAN uywaykita veterinariaman apay, allinlla rikchakuptinpas: huk parchellapas "
          "utaq pastillallapas allquta, misita wañuchinmanmi. Siminmanta hurquy. Runa "
          "llamiykuptin utaq mana allinchu kaptin: 106 (SAMU).",
}

FALLBACK = {
    "es": "No lo sé con certeza y prefiero no adivinar. Para orientación, llame a la Línea 113, "
          "opción 5 (salud mental y adicciones, gratuita). En una emergencia, al 106 (SAMU).",
    "en": "I don't know for sure and would rather not guess. For guidance, call Línea 113, "
          "option 5 (mental health and addictions, free). In an emergency, call 106 (SAMU).",
    "qu": "Manam allintachu yachani. Tapukuyniykipaq 113 nisqaman waqyay, 5 kaqta akllay. "
          "Usqhaylla kaptinqa 106 (SAMU) nisqaman.",
}

DOSE_REFUSAL = {
    "es": "No puedo indicar dosis ni frecuencias: dependen de cada persona y solo las debe "
          "indicar su médico. Consulte al médico que le recetó o al químico farmacéutico de un "
          "establecimiento autorizado; también puede llamar a la Línea 113. Si alguien tomó de "
          "más o tiene mucho sueño o respira lento, llame al 106 (SAMU).",
    "en": "I cannot give doses or how often to take them: they depend on each person and only "
          "your doctor should set them. Ask the doctor who prescribed it or the pharmacist of an "
          "authorised outlet; you can also call Línea 113. If someone took too much, is very "
          "drowsy or breathes slowly, call 106 (SAMU).",
    "qu": "Manam dosista niyta atinichu: hampikuqniykita utaq farmacia runata tapuy. "
          "Usqhaylla kaptinqa 106 (SAMU) nisqaman waqyay.",
}

EMPTY = {
    "es": "Escriba su pregunta sobre fentanilo, opioides, sobredosis, tratamiento o cómo "
          "denunciar.",
    "en": "Type your question about fentanyl, opioids, overdose, treatment or how to report.",
    "qu": "Tapukuyniykita qillqay.",
}

LOCATOR_ASK = {
    "es": "Dígame su distrito, provincia o departamento (por ejemplo: «hospital cerca de "
          "Huamanga») o use el buscador en /servicios. Orientación sobre adicciones: Línea 113, "
          "opción 5.",
    "en": "Tell me your district, province or department (for example 'hospital near Cusco') "
          "or use the finder at /servicios. Guidance on addictions: Línea 113, option 5.",
    "qu": "Maypi tiyasqaykita niway (distrito, provincia). Línea 113, 5 kaqta akllay.",
}

LOCATOR_HEAD = {
    "es": "Servicios más cercanos a {place}:",
    "en": "Nearest services to {place}:",
    "qu": "{place} nisqaman aswan qaylla hampina wasikuna:",
}
LOCATOR_TAIL = {
    "es": "Distancia en línea recta desde la capital del distrito. Llame antes de ir. "
          "Orientación sobre adicciones: Línea 113, opción 5. Emergencias: 106.",
    "en": "Straight-line distance from the district capital. Call before going. Guidance on "
          "addictions: Línea 113, option 5. Emergencies: 106.",
    "qu": "Línea 113, 5 kaqta akllay. Usqhaylla kaptinqa 106.",
}
NO_QU = ("(Esta respuesta aún no tiene traducción al quechua; se muestra en castellano.)")
