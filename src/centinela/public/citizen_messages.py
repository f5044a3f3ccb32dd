"""What a citizen reads when something goes wrong: in their language (Spanish first), naming
the field as the form labels it, saying what to do, and never hiding the emergency numbers.

Domain errors carry a machine ``code``/``field``; this module turns them into words.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

EMERGENCY_LINE = {
    "es": "Si es una emergencia: 106 (SAMU) · Línea 113, opción 5 (salud mental y "
          "adicciones) · 105 (Policía).",
    "en": "In an emergency: 106 (SAMU) · Línea 113, option 5 (mental health and addictions) · "
          "105 (Police).",
    "qu": "Usqhaylla kaptinqa: 106 (SAMU) · Línea 113, 5 kaqta akllay · 105 (Policía).",
}

RATE_LIMITED = {
    "ask": {
        "es": "Ha enviado muchas preguntas seguidas; espere un minuto y vuelva a escribir. ",
        "en": "You sent many questions in a row; wait a minute and write again. ",
        "qu": "Achka tapukuykunata apachimunki; huk minutota suyay. ",
    },
    "report": {
        "es": "Desde esta conexión ya se enviaron muchas denuncias hoy; inténtelo mañana o "
              "llame a la Central Única de Denuncias, 1818. ",
        "en": "Many reports were already sent from this connection today; try again tomorrow "
              "or call the Central Única de Denuncias, 1818. ",
        "qu": "Kunan punchaw achka willakuykuna kachasqa; paqarin kutipay utaq 1818 "
              "nisqaman waqyay. ",
    },
    "status": {
        "es": "Demasiadas consultas de seguimiento desde esta conexión; espere una hora. ",
        "en": "Too many follow-up look-ups from this connection; wait an hour. ",
        "qu": "Achka tapukuykuna; huk horata suyay. ",
    },
    "sms": {
        "es": "Demasiados mensajes hoy desde este número; intente mañana o llame al 1818. ",
        "en": "Too many messages today from this number; try tomorrow or call 1818. ",
        "qu": "Kunan punchaw achka willakuykuna; paqarin kutipay. ",
    },
}

# Abuse-check codes (centinela.public.abuse.AbuseError.code) → what the person should do.
ABUSE = {
    "honeypot": {"es": "No se pudo enviar el formulario. Recargue la página e inténtelo otra vez.",
                 "en": "The form could not be sent. Reload the page and try again."},
    "challenge": {"es": "La verificación del formulario no es válida. Recargue la página; lo que "
                        "escribió se conserva.",
                  "en": "The form check is not valid. Reload the page; what you wrote is kept."},
    "expired": {"es": "El formulario caducó. Revise sus datos y vuelva a enviarlo.",
                "en": "The form expired. Check your details and send it again."},
    "too_fast": {"es": "Espere unos segundos, revise sus datos y vuelva a pulsar «Enviar».",
                 "en": "Wait a few seconds, check your details and press 'Send' again."},
    "answer": {"es": "La respuesta a la pregunta de verificación (la suma) no es correcta. "
                     "Escriba el resultado en números.",
               "en": "The answer to the check question (the sum) is not right. Type the result "
                     "in digits."},
    "replay": {"es": "Este formulario ya se envió. Para otra denuncia, recargue la página.",
               "en": "This form was already sent. To file another report, reload the page."},
}

# Report fields as the form names them, and what to do when one is wrong.
FIELD_LABELS = {
    "kind": {"es": "Qué vio", "en": "What you saw"},
    "ubigeo": {"es": "Distrito", "en": "District"},
    "how": {"es": "Cómo se enteró", "en": "How you know"},
    "occurred_on": {"es": "Fecha", "en": "Date"},
    "location": {"es": "Ubicación en el mapa", "en": "Map location"},
    "text": {"es": "Descripción", "en": "Description"},
    "photo": {"es": "Foto", "en": "Photo"},
    "contact": {"es": "Contacto del vendedor", "en": "Seller's contact"},
    "establishment_name": {"es": "Nombre del local", "en": "Name of the place"},
    "challenge": {"es": "Verificación", "en": "Check"},
    "code": {"es": "Código de seguimiento", "en": "Follow-up code"},
    "question": {"es": "Pregunta", "en": "Question"},
}
_REPORT_FIXES: dict[tuple[str, str], dict[str, str]] = {
    ("kind", ""): {"es": "elija una opción de la lista.", "en": "choose an option from the list."},
    ("ubigeo", ""): {"es": "elija departamento, provincia y distrito de las listas.",
                     "en": "choose department, province and district from the lists."},
    ("how", ""): {"es": "elija una opción de la lista o déjelo en blanco.",
                  "en": "choose an option from the list or leave it blank."},
    ("occurred_on", "future"): {"es": "la fecha no puede ser futura.",
                                "en": "the date cannot be in the future."},
    ("occurred_on", "years"): {"es": "la fecha es de hace más de tres años; revise el año.",
                               "en": "the date is more than three years ago; check the year."},
    ("occurred_on", ""): {"es": "escriba la fecha como día/mes/año o use el calendario.",
                          "en": "type the date as day/month/year or use the calendar."},
    ("location", "outside"): {"es": "el punto está fuera del Perú; vuelva a marcarlo o déjelo "
                                    "en blanco.",
                              "en": "the point is outside Peru; mark it again or leave it blank."},
    ("location", ""): {"es": "complete latitud y longitud con números (o deje ambas en blanco).",
                       "en": "fill in both latitude and longitude as numbers (or leave both "
                             "blank)."},
    ("text", "longer"): {"es": "el texto es demasiado largo (máximo 4000 caracteres); "
                               "acórtelo.",
                         "en": "the text is too long (4000 characters at most); shorten it."},
    ("text", "maximum"): {"es": "esta denuncia ya tiene el máximo de datos agregados.",
                          "en": "this report already has the most additions allowed."},
    ("text", ""): {"es": "cuente qué vio, o escriba el nombre del local o el contacto del "
                         "vendedor.",
                   "en": "describe what you saw, or give the place or the seller's contact."},
    ("contact", "own"): {"es": "aquí va solo el teléfono, usuario o enlace del vendedor, "
                               "nunca el suyo ni el de otra persona; bórrelo o corríjalo.",
                         "en": "this is only for the seller's phone, handle or link, never "
                               "yours or anyone else's; remove or correct it."},
    ("contact", ""): {"es": "escriba el teléfono, usuario o enlace del vendedor, o déjelo en "
                            "blanco.",
                      "en": "give the seller's phone, handle or link, or leave it blank."},
    ("photo", "larger"): {"es": "la foto pesa más de 5 MB; envíe una más pequeña.",
                          "en": "the photo is larger than 5 MB; send a smaller one."},
    ("photo", ""): {"es": "la foto debe ser JPEG o PNG; pruebe con otra.",
                    "en": "the photo must be a JPEG or PNG; try another one."},
}


def ui_lang(lang: str | None) -> str:
    """Forms exist in Spanish and English; anything else reads Spanish."""
    return "en" if lang == "en" else "es"


def rate_limited(bucket: str, lang: str) -> str:
    """The rate-limit message of ``bucket`` in ``lang``, always with the emergency numbers."""
    lang = lang if lang in ("es", "en", "qu") else "es"
    return RATE_LIMITED.get(bucket, RATE_LIMITED["ask"])[lang] + EMERGENCY_LINE[lang]


def abuse_message(code: str, lang: str) -> str:
    """The message of a failed abuse check (``rate`` is handled by :func:`rate_limited`)."""
    return ABUSE.get(code, ABUSE["challenge"])[ui_lang(lang)]


def field_message(field: str, detail: str, lang: str) -> str:
    """«Field: what to do» for a report error (``detail`` is the domain's English reason)."""
    lang = ui_lang(lang)
    detail = detail or ""
    fix = None
    for (f, cue), text in _REPORT_FIXES.items():
        if f == field and cue and cue in detail:
            fix = text
            break
    if fix is None:
        fix = _REPORT_FIXES.get((field, ""), {"es": "revise este dato.", "en": "check this."})
    label = FIELD_LABELS.get(field, {"es": "Dato", "en": "Field"})[lang]
    return f"{label}: {fix[lang]}"


_TEL = re.compile(r"(?<![\d\w/])(106|105|113|116|1818|\(?0?1\)?\s?\d{3}[\s-]?\d{4}|9\d{2}\s?\d{3}"
                  r"\s?\d{3})(?![\d\w])")


def tel_links(text: str | None) -> Markup:
    """Escape ``text`` and make every phone number in it a ``tel:`` link."""
    safe = str(escape(text or ""))

    def link(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(1))
        return f'<a href="tel:{digits}" class="tel">{m.group(1)}</a>'

    return Markup(_TEL.sub(link, safe))


def emergency_message(text: str | None, ui: str = "es") -> str | None:
    """The emergency answer when a report or message describes one (shown before anything
    else), in the text's language; None when it does not."""
    from centinela.public.assistant.engine import red_flag_text
    from centinela.public.assistant.language import detect_language
    from centinela.public.assistant.redflags import detect as detect_red_flag

    flag = detect_red_flag(text or "")
    if flag is None:
        return None
    language = detect_language(text)
    language = language if language in ("es", "en", "qu") else ui_lang(ui)
    return red_flag_text(flag.category, text or "", language)


def bilingual_field_message(field: str, detail: str) -> str:
    """«Campo: qué hacer / Field: what to do» for command-line users (Spanish first)."""
    return f"{field_message(field, detail, 'es')} / {field_message(field, detail, 'en')}"
