"""The page's words in each language it speaks. A patient chooses theirs on the page (it is also the
language of their messages); before the second factor, the browser's Accept-Language chooses.
The protocol files' visit instructions are shown as written (one language per protocol file)."""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = {"en": "English", "es": "Español"}

TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Your care page",
        "questions": "Questions? Call the clinic at",
        "factor_title": "Confirm it's you",
        "factor_intro": "To keep your details private, please enter your date of birth.",
        "factor_wrong": "That did not match our records. Please try again.",
        "date_of_birth": "Date of birth",
        "continue": "Continue",
        "landing": "Your page opens from the personal link in our emails. Please use the link in your"
        " most recent email from us, or call the clinic and we will send you a new one.",
        "refused_title": "This link can't be opened",
        "refused": "It may have expired, been replaced by a newer message, or been turned off. Please"
        " use the link in your most recent message from us, or call the clinic.",
        "unsubscribe_title": "Stop optional messages",
        "unsubscribe": "Surveys and other optional messages will stop. Messages about your appointments"
        " continue: they carry what you need to know to be safe at your visit.",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_title": "You're unsubscribed",
        "unsubscribed": "We will send no more surveys or other optional messages. Messages about your"
        " appointments continue: they carry what you need to know to be safe at your visit. You can"
        " change this on your page.",
        "hello": "Hello",
        "saved": "Your preferences were saved.",
        "upcoming": "Upcoming appointments",
        "arrive": "Please arrive by {time}. Bring a photo ID and a list of your current medicines.",
        "ready_title": "Today's visit: please confirm",
        "ready_ride": "Someone will take me home after the visit",
        "ready_fasting": "I followed the eating and drinking instructions",
        "confirm": "Confirm",
        "calendar": "Add to calendar (.ics)",
        "reschedule": "Ask to reschedule",
        "cancel": "Ask to cancel",
        "no_upcoming": "No upcoming appointments.",
        "past": "Past appointments",
        "none_yet": "None yet.",
        "contact_title": "How we contact you",
        "email": "Email",
        "sms": "Text messages (SMS)",
        "optional": "Surveys and other optional messages",
        "language": "Language of this page and of our messages",
        "contact_note": "Changes apply to the next message we send. Messages about your appointments"
        " (confirmations, changes, reminders and preparation instructions) can't be turned off: they"
        " carry what you need to know to be safe at your visit. They go to the channels you leave on;"
        " with none on, the clinic will call you.",
        "save": "Save preferences",
        "revoke_note": "Not your device, or shared this link by mistake? Turn this link off; newer"
        " messages carry their own.",
        "revoke": "Turn this link off",
        "sent_reschedule": "We have your request to reschedule; the clinic will contact you with a new time.",
        "sent_cancel": "We have your request to cancel; the clinic will confirm with you.",
        "sent_ready": "Thank you: the clinic will see your confirmation when you check in.",
        "kind_consultation": "Consultation",
        "kind_preparation": "Preparation session",
        "kind_dosing": "Treatment session",
        "kind_integration": "Integration session",
        "kind_other": "Appointment",
        "step_fasting": "Before: eating and drinking",
        "step_ride_home": "Ride home",
        "step_driving": "Driving",
        "step_aftercare": "Aftercare",
        "ride_home": "Arrange a ride home: someone must take you home after this visit.",
    },
    "es": {
        "title": "Su página de atención",
        "questions": "¿Preguntas? Llame a la clínica al",
        "factor_title": "Confirme que es usted",
        "factor_intro": "Para proteger sus datos, escriba su fecha de nacimiento.",
        "factor_wrong": "No coincide con nuestros registros. Inténtelo de nuevo.",
        "date_of_birth": "Fecha de nacimiento",
        "continue": "Continuar",
        "landing": "Su página se abre desde el enlace personal de nuestros correos. Use el enlace de"
        " nuestro correo más reciente, o llame a la clínica y le enviaremos uno nuevo.",
        "refused_title": "Este enlace no se puede abrir",
        "refused": "Puede haber vencido, haber sido reemplazado por un mensaje más reciente o haber"
        " sido desactivado. Use el enlace de nuestro mensaje más reciente o llame a la clínica.",
        "unsubscribe_title": "Dejar de recibir mensajes opcionales",
        "unsubscribe": "Dejará de recibir encuestas y otros mensajes opcionales. Los mensajes sobre sus"
        " citas continúan: contienen lo que necesita saber para estar seguro en su visita.",
        "unsubscribe_button": "Darse de baja",
        "unsubscribed_title": "Se ha dado de baja",
        "unsubscribed": "No le enviaremos más encuestas ni otros mensajes opcionales. Los mensajes"
        " sobre sus citas continúan: contienen lo que necesita saber para estar seguro en su visita."
        " Puede cambiarlo en su página.",
        "hello": "Hola",
        "saved": "Sus preferencias se guardaron.",
        "upcoming": "Próximas citas",
        "arrive": "Llegue antes de las {time}. Traiga una identificación con foto y una lista de sus"
        " medicamentos actuales.",
        "ready_title": "Visita de hoy: confirme, por favor",
        "ready_ride": "Alguien me llevará a casa después de la visita",
        "ready_fasting": "Seguí las indicaciones sobre comida y bebida",
        "confirm": "Confirmar",
        "calendar": "Añadir al calendario (.ics)",
        "reschedule": "Pedir otra fecha",
        "cancel": "Pedir cancelación",
        "no_upcoming": "No tiene citas próximas.",
        "past": "Citas anteriores",
        "none_yet": "Ninguna todavía.",
        "contact_title": "Cómo nos comunicamos con usted",
        "email": "Correo electrónico",
        "sms": "Mensajes de texto (SMS)",
        "optional": "Encuestas y otros mensajes opcionales",
        "language": "Idioma de esta página y de nuestros mensajes",
        "contact_note": "Los cambios se aplican al próximo mensaje. Los mensajes sobre sus citas"
        " (confirmaciones, cambios, recordatorios e indicaciones de preparación) no se pueden"
        " desactivar: contienen lo que necesita saber para estar seguro en su visita. Llegan por los"
        " canales que deje activados; si no deja ninguno, la clínica le llamará.",
        "save": "Guardar preferencias",
        "revoke_note": "¿No es su dispositivo o compartió este enlace por error? Desactívelo; los"
        " mensajes nuevos traen su propio enlace.",
        "revoke": "Desactivar este enlace",
        "sent_reschedule": "Recibimos su solicitud de cambio de fecha; la clínica le propondrá otra hora.",
        "sent_cancel": "Recibimos su solicitud de cancelación; la clínica se la confirmará.",
        "sent_ready": "Gracias: la clínica verá su confirmación cuando usted llegue.",
        "kind_consultation": "Consulta",
        "kind_preparation": "Sesión de preparación",
        "kind_dosing": "Sesión de tratamiento",
        "kind_integration": "Sesión de integración",
        "kind_other": "Cita",
        "step_fasting": "Antes: comida y bebida",
        "step_ride_home": "Regreso a casa",
        "step_driving": "Conducir",
        "step_aftercare": "Después de la visita",
        "ride_home": "Organice quién le lleve a casa: alguien debe acompañarle después de esta visita.",
    },
}


def language(locale: str | None) -> str:
    """A language the page speaks for ``locale`` ("es-MX" → "es"), else English."""
    lang = (locale or "").split("-")[0].lower()
    return lang if lang in TEXT else "en"


def from_accept_language(header: str | None, default: str) -> str:
    """The first language of an Accept-Language header the page speaks (by q), else ``default``."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.split("-")[0].lower()
        if lang in TEXT and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else language(default)
