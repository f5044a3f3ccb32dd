"""Fixed safety messages of the assistant in Spanish, English and Quechua (Quechua pending
certified translation review); the crisis, fallback and dose messages also in Portuguese (the
knowledge base itself has no Portuguese text: answers to Portuguese questions are in Spanish,
with :data:`PT_NOTE`)."""

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
        "pt": "🚨 Isto pode ser uma overdose. Ligue AGORA para o 106 (SAMU, a ambulância do "
              "Peru). Fique com a pessoa; se ela respira, deite-a de lado; se tiver naloxona, "
              "use-a; siga as instruções do operador. Polícia: 105. Saúde mental e "
              "dependências: Línea 113, opção 5.",
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
        "pt": "💛 O que você sente importa e você não está sozinho/a. Ligue agora para a "
              "Línea 113, opção 5 (saúde mental no Peru, gratuita, 24 horas; atendem em "
              "espanhol). Se estiver em perigo imediato, ligue para o 106 (SAMU) ou o 105 "
              "(Polícia). Se puder, peça a alguém de confiança que fique com você.",
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
        "pt": "🚨 Se for uma emergência, ligue AGORA para o 106 (SAMU) para atendimento médico "
              "ou para o 105 (Polícia) se houver perigo. Bombeiros: 116. Saúde mental e "
              "dependências: Línea 113, opção 5.",
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
        "pt": "🚨 Ligue AGORA para o 106 (SAMU), mesmo que a criança pareça bem: um só "
              "comprimido ou adesivo de opioide pode matar uma criança. Tire o que estiver na "
              "boca ou colado na pele, não provoque o vômito e não a deixe sozinha. Polícia: 105.",
    },
}

# The overdose answer when the writer describes their own symptoms ("I feel super sleepy"):
# the same numbers, said to the person who may be overdosing.
OVERDOSE_SELF = {
    "es": "🚨 Lo que describe puede ser una sobredosis. Llame AHORA al 106 (SAMU) y diga qué "
          "tomó o se aplicó. No se quede solo/a: pida a alguien que se quede con usted y que "
          "use naloxona si la tiene y usted no responde. No tome nada más (ni alcohol ni "
          "sedantes) y no maneje. Policía: 105. Salud mental y adicciones: Línea 113, opción 5.",
    "en": "🚨 What you describe may be an overdose. Call 106 (SAMU) NOW and say what you took "
          "or applied. Do not stay alone: ask someone to stay with you and to use naloxone if "
          "they have it and you do not respond. Do not take anything else (no alcohol or "
          "sedatives) and do not drive. Police: 105. Mental health and addictions: Línea 113, "
          "option 5.",
    "qu": "🚨 Sobredosismi kanman. KUNAN 106 (SAMU) nisqaman waqyay. Ama sapallayki kaychu: "
          "pitapas qamwan qhipakunanpaq mañakuy. Ama imatapas astawan upyaychu. Línea 113, 5 "
          "kaqta akllay.",
    "pt": "🚨 O que você descreve pode ser uma overdose. Ligue AGORA para o 106 (SAMU) e diga "
          "o que tomou ou aplicou. Não fique sozinho/a: peça a alguém que fique com você e que "
          "use naloxona se tiver e você não responder. Não tome mais nada (nem álcool nem "
          "sedativos) e não dirija. Polícia: 105. Saúde mental: Línea 113, opção 5.",
}

# The overdose answer when the writer describes someone else ("mi pata está con los labios
# morados, ¿le echo agua?"): what the helper does now, and the home remedies that do harm.
# Quechua: written by the developers (not native speakers), not reviewed by a native speaker.
OVERDOSE_HELPER = {
    "es": "🚨 Puede ser una sobredosis. Llame AHORA al 106 (SAMU); si no contestan, a los "
          "Bomberos (116). {remedy}Mientras llega la ayuda: 1) si tiene naloxona, "
          "úsela como indica el envase y, si en 2 a 3 minutos no responde, aplique otra dosis; "
          "2) si no respira o respira muy poco, dele respiración de rescate como le indique el "
          "operador del 106; si respira, póngala de costado (posición de recuperación) para que "
          "no se ahogue; 3) quédese con la persona, no la deje sola. No la meta en agua fría ni "
          "le eche agua, no le dé nada de beber, no la haga vomitar y no le dé sal, leche, café "
          "ni otras drogas: no sacan de una sobredosis y pueden ahogarla. Policía: 105.",
    "en": "🚨 This may be an overdose. Call 106 (SAMU) NOW; if no one answers, the fire "
          "brigade (116). {remedy}Until help arrives: 1) if you have naloxone, use it as the "
          "package says and, if there is no response in 2 to 3 minutes, give another dose; "
          "2) if they are not breathing or barely breathing, give rescue breaths as the 106 "
          "operator tells you; if they are breathing, put them on their side (recovery "
          "position) so they do not choke; 3) stay with them, do not leave them alone. Do not "
          "put them in cold water or pour water on them, do not give them anything to drink, "
          "do not make them vomit and do not give them salt, milk, coffee or other drugs: "
          "these do not reverse an overdose and can make them choke. Police: 105.",
    "qu": "🚨 Sobredosismi kanman. KUNAN 106 (SAMU) nisqaman waqyay; mana kutichiptinkuqa 116 "
          "(Bomberos) nisqaman. {remedy}Naloxona kaptinqa churay; 2 utaq 3 minutopi mana "
          "rikchaptinqa, hukta churay. Mana samaptinqa, 106 runaq nisqanman hina samayta quy; samachkaptinqa "
          "waqtanman siriykachiy. Paywan qhipakuy, ama sapallanta saqiychu. Ama chiri yakuman "
          "churaychu, ama yakuta hich'aychu, ama imatapas upyachiychu, ama aqtuchiychu. "
          "Policía: 105.",
    "pt": "🚨 Pode ser uma overdose. Ligue AGORA para o 106 (SAMU); se ninguém atender, "
          "para os Bombeiros (116). {remedy}Até a ajuda chegar: 1) se tiver naloxona, "
          "use-a como indica a embalagem e, se não houver resposta em 2 a 3 minutos, aplique "
          "outra dose; 2) se a pessoa não respira ou respira muito pouco, faça respiração de "
          "resgate como o operador do 106 indicar; se respira, deite-a de lado (posição de "
          "recuperação); 3) fique com ela, não a deixe sozinha. Não a coloque em água fria nem "
          "jogue água nela, não dê nada para beber, não a faça vomitar e não dê sal, leite, "
          "café nem outras drogas: isso não reverte uma overdose e pode sufocá-la. Polícia: 105.",
}

# Opens the helper's answer when the message asks about a home remedy ("¿le echo agua?",
# "should I put him in a cold shower?"), right after the numbers to call: a statement, not a
# bare yes or no, so it reads right whichever way the question was put.
REMEDY_FIRST = {
    "es": "Agua fría, ducha, hielo, sal, leche, café o hacer vomitar a la persona no sacan a "
          "nadie de una sobredosis y pueden ahogarla: no los use.",
    "en": "Cold water, a shower, ice, salt, milk, coffee or making them vomit do not bring "
          "anyone out of an overdose and can make them choke: do not use them.",
    "qu": "Ama chiri yakuman churaychu, ama salta, lecheta quychu, ama aqtuchiychu: manam "
          "yanapanchu.",
    "pt": "Água fria, chuveiro, gelo, sal, leite, café ou fazer vomitar não tiram ninguém de uma "
          "overdose e podem sufocar a pessoa: não use.",
}

# Added to an overdose answer when the message names a patch: the patch keeps releasing
# fentanyl while it stays on.
PATCH_OFF = {
    "es": "Si hay un parche de fentanilo puesto, retírelo ya (dóblelo con el adhesivo hacia "
          "adentro, lejos de niños y mascotas), no ponga otro y enjuague la piel solo con agua.",
    "en": "If a fentanyl patch is on, take it off now (fold it sticky sides together, away from "
          "children and pets), do not put on another, and rinse the skin with water only.",
    "qu": "Parche kaptinqa, kunan hurquy, ama huktachu churaychu.",
    "pt": "Se houver um adesivo de fentanil colado, retire-o já (dobre-o com a parte adesiva "
          "para dentro, longe de crianças e animais), não coloque outro e lave a pele só com "
          "água.",
}

PT_NOTE = ("(Ainda não tenho respostas revisadas em português; segue a resposta em espanhol. "
           "Emergência: 106. Saúde mental e dependências: Línea 113, opção 5.)")

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
    "pt": "🚨 Leve AGORA seu animal a um veterinário de emergência, mesmo que pareça bem: um "
          "adesivo (mesmo usado) ou um comprimido de opioide pode matar um cão ou um gato. "
          "Retire com luvas ou um saco o que estiver na boca ou colado no pelo e não provoque "
          "o vômito. Se uma pessoa tocou nele ou se sente mal: 106 (SAMU).",
}

FALLBACK = {
    "es": "No lo sé con certeza y prefiero no adivinar. Para orientación, llame a la Línea 113, "
          "opción 5 (salud mental y adicciones, gratuita). En una emergencia, al 106 (SAMU).",
    "en": "I don't know for sure and would rather not guess. For guidance, call Línea 113, "
          "option 5 (mental health and addictions, free). In an emergency, call 106 (SAMU).",
    "qu": "Manam allintachu yachani. Tapukuyniykipaq 113 nisqaman waqyay, 5 kaqta akllay. "
          "Usqhaylla kaptinqa 106 (SAMU) nisqaman.",
    "pt": "Não sei com certeza e prefiro não adivinhar (e ainda não respondo em português). "
          "Para orientação, ligue para a Línea 113, opção 5 (saúde mental e dependências, "
          "gratuita). Em uma emergência, para o 106 (SAMU).",
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
    "pt": "Não posso indicar doses nem frequências: dependem de cada pessoa e só o seu médico "
          "deve indicá-las. Pergunte ao médico que receitou ou ao farmacêutico; também pode "
          "ligar para a Línea 113. Se alguém tomou demais, está com muito sono ou respira "
          "devagar, ligue para o 106 (SAMU).",
}

# A dose asked for getting high ("para volarme", "para que pegue más"): no amount, the risk,
# harm reduction and the way to treatment.
DOSE_REFUSAL_NONMEDICAL = {
    "es": "No doy cantidades ni formas de usar opioides para drogarse: con el fentanilo no hay "
          "una cantidad segura fuera del uso médico, y entre sentir el efecto y dejar de "
          "respirar la diferencia es muy pequeña. Usar más, cambiar los parches antes de "
          "tiempo, calentarlos, cortarlos o masticarlos puede liberar una dosis mortal. Si va a "
          "consumir igual: no lo haga solo/a, tenga naloxona a mano y que alguien sepa llamar "
          "al 106. Si quiere dejarlo o reducir el riesgo, la Línea 113, opción 5, es gratuita y "
          "confidencial. Si alguien está muy somnoliento o respira lento: 106 (SAMU).",
    "en": "I do not give amounts or ways to use opioids to get high: with fentanyl there is no "
          "safe amount outside medical use, and the gap between feeling the effect and "
          "stopping breathing is very small. Using more, changing patches early, heating, "
          "cutting or chewing them can release a deadly dose. If you use anyway: do not use "
          "alone, keep naloxone at hand and have someone ready to call 106. If you want to "
          "stop or lower the risk, Línea 113, option 5, is free and confidential. If someone "
          "is very drowsy or breathing slowly: 106 (SAMU).",
    "qu": "Manam drogakunapaq dosista niyta atinichu: fentanilowan pisillapas wañuchinmanmi. "
          "Ama sapallayki kaychu. Yanapayta munaspaqa 113 nisqaman waqyay, 5 kaqta akllay. "
          "Usqhaylla kaptinqa 106 (SAMU).",
    "pt": "Não dou quantidades nem formas de usar opioides para ficar chapado: com fentanil não "
          "existe quantidade segura fora do uso médico, e a diferença entre sentir o efeito e "
          "parar de respirar é muito pequena. Usar mais, trocar adesivos antes da hora, "
          "aquecê-los, cortá-los ou mastigá-los pode liberar uma dose fatal. Se for usar mesmo "
          "assim: não use sozinho/a e tenha naloxona por perto. Para parar ou reduzir o risco: "
          "Línea 113, opção 5. Emergência: 106 (SAMU).",
}

EMPTY = {
    "es": "Escriba su pregunta sobre fentanilo, opioides, sobredosis, tratamiento o cómo "
          "denunciar.",
    "en": "Type your question about fentanyl, opioids, overdose, treatment or how to report.",
    "qu": "Tapukuyniykita qillqay.",
    "pt": "Escreva sua pergunta sobre fentanil, opioides, overdose, tratamento ou como "
          "denunciar.",
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
NO_QU = ("(Runasimipi manaraqmi kanchu, castellanopim. / Esta respuesta aún no tiene "
         "traducción al quechua; se muestra en castellano.)")
# A Quechua question whose answer exists only in Spanish: said in Quechua before the Spanish
# answer ("this answer is not in Quechua yet; the whole answer is in Spanish"), and the
# emergency numbers after it. Written by the developers (not native speakers); not reviewed by
# a native speaker.
QU_IN_SPANISH_HEAD = ("Kay kutichiyqa manaraqmi runasimipi kanchu; tukuy kutichiyqa "
                      "castellanopim kachkan:")
QU_EMERGENCY_TAIL = ("Usqhaylla kaptinqa waqyay: 106 (SAMU), 116 (Bomberos), 105 (Policía). "
                     "Yanapaypaq: Línea 113, 5 kaqta akllay.")


def text(table: dict[str, str], lang: str) -> str:
    """``table`` in ``lang``, Spanish when that language has no text."""
    return table.get(lang) or table["es"]
