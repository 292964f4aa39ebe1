"""Patient templates, Spanish (same rules as English; texts are folded to GSM-7 when sent)."""

from __future__ import annotations

from .model import CalendarMethod, Template

SIGN_OFF = "\n\nEl equipo de atención\n"


def _email(
    name: str, version: int, subject: str, body: str, calendar: CalendarMethod | None = None
) -> Template:
    return Template(name, "patient", "email", "es", version, body + SIGN_OFF, subject, calendar)


def _sms(name: str, version: int, body: str) -> Template:
    return Template(name, "patient", "sms", "es", version, body)


TEMPLATES: tuple[Template, ...] = (
    _email(
        "consultation_ack",
        1,
        "Recibimos su solicitud",
        "Hola {given_name}:\n\nGracias por escribirnos. Recibimos su solicitud de consulta y pronto le "
        "confirmaremos una hora.\n\n{crisis}\n\nLos detalles están en su portal: {portal_url}",
    ),
    # v2: nada de lo escrito en el formulario público (ni el nombre), ver patient_en
    _email(
        "consultation_ack",
        2,
        "Recibimos su solicitud",
        "Hola:\n\nGracias por escribirnos. Recibimos una solicitud de consulta con esta dirección y pronto "
        "le confirmaremos una hora. Si usted no la envió, puede ignorar este mensaje."
        "\n\n{crisis}\n\nLos detalles están en su portal: {portal_url}",
    ),
    _sms(
        "consultation_ack",
        1,
        "{sender}: Recibimos su solicitud y pronto confirmaremos una hora. ¿En crisis? Llame o escriba"
        " al 988. Responda STOP para no recibir mensajes.",
    ),
    _email(
        "eligibility_update",
        1,
        "Novedades sobre su solicitud",
        "Hola {given_name}:\n\nHay novedades sobre su solicitud. Entre en su portal para leerlas: "
        "{portal_url}\n\n¿Preguntas? Llámenos al {clinic_phone}.\n\n{crisis}",
    ),
    _sms(
        "eligibility_update",
        1,
        "{sender}: Hay novedades sobre su solicitud. Entre en su portal: {portal_url}",
    ),
    _email(
        "booking_confirmation",
        1,
        "Su cita está confirmada",
        "Hola {given_name}:\n\nSu cita está reservada para el {starts_at_local}.\n"
        "Los detalles, y cómo cambiarla, están en su portal: {portal_url}",
        "REQUEST",
    ),
    _sms(
        "booking_confirmation",
        1,
        "{sender}: Su cita está confirmada: {starts_at_short}. Detalles: {portal_url} Responda STOP para"
        " no recibir mensajes.",
    ),
    _email(
        "appointment_rescheduled",
        1,
        "Su cita cambió de hora",
        "Hola {given_name}:\n\nSu cita cambió al {starts_at_local}. La invitación adjunta reemplaza a la "
        "anterior.\nLos detalles están en su portal: {portal_url}",
        "REQUEST",
    ),
    _sms(
        "appointment_rescheduled", 1, "{sender}: Su cita cambió al {starts_at_short}. Detalles: {portal_url}"
    ),
    _email(
        "appointment_cancelled",
        1,
        "Su cita fue cancelada",
        "Hola {given_name}:\n\nSu próxima cita fue cancelada. Para reservar otra hora, visite {portal_url} "
        "o llame al {clinic_phone}.",
        "CANCEL",
    ),
    _sms(
        "appointment_cancelled",
        1,
        "{sender}: Su próxima cita fue cancelada. Para reservar otra visite {portal_url} o llame al"
        " {clinic_phone}.",
    ),
    _email(
        "appointment_reminder_24h",
        1,
        "Recordatorio de su cita",
        "Hola {given_name}:\n\nLe recordamos que su cita es el {starts_at_local}.\n"
        "Los detalles, y cómo cambiarla, están en su portal: {portal_url}",
    ),
    _sms(
        "appointment_reminder_24h",
        1,
        "{sender}: Recordatorio: su cita es el {starts_at_short}. Detalles: {portal_url} Responda STOP"
        " para no recibir mensajes.",
    ),
    _email(
        "appointment_reminder_2h",
        1,
        "Su cita es pronto",
        "Hola {given_name}:\n\nSu cita empieza el {starts_at_local}.\n"
        "Si no puede venir, llámenos al {clinic_phone}.",
    ),
    _sms(
        "appointment_reminder_2h",
        1,
        "{sender}: Su cita empieza {starts_at_short}. ¿No puede venir? Llame al {clinic_phone}.",
    ),
    _email(
        "plan_ahead",
        1,
        "Prepárese para su próxima visita",
        "Hola {given_name}:\n\nSu visita es el {starts_at_local}. Por favor, prepárese:\n"
        "- pida a alguien que le lleve a casa después;\n"
        "- no conduzca hasta el día siguiente, después de dormir bien;\n"
        "- siga las indicaciones sobre comida y bebida de su portal.\n\n"
        "Detalles: {portal_url}\n¿Preguntas? Llámenos al {clinic_phone}.",
    ),
    _sms(
        "plan_ahead",
        1,
        "{sender}: Visita el {starts_at_short}. Pida que le lleven a casa; no conduzca hasta el día"
        " siguiente. Indicaciones: {portal_url}",
    ),
    _email(
        "aftercare",
        1,
        "Después de su visita de hoy",
        "Hola {given_name}:\n\nGracias por venir hoy. Descanse el resto del día. No conduzca, no use "
        "maquinaria ni tome decisiones importantes hasta el día siguiente, después de dormir bien.\n"
        "Si se siente mal o tiene dudas, llámenos al {clinic_phone}.\n\n{crisis}\n\n"
        "Más indicaciones en su portal: {portal_url}",
    ),
    _sms(
        "aftercare",
        1,
        "{sender}: Gracias por su visita. Descanse y no conduzca hasta mañana. Dudas: {clinic_phone}."
        " En crisis llame o escriba al 988.",
    ),
    _email(
        "integration_due",
        1,
        "Reserve su sesión de seguimiento",
        "Hola {given_name}:\n\nEs momento de su sesión de seguimiento, idealmente antes del "
        "{window_closes_at_local}.\nResérvela en su portal: {portal_url}",
    ),
    _sms(
        "integration_due",
        1,
        "{sender}: Es momento de reservar su sesión de seguimiento. Reserve en su portal: {portal_url}",
    ),
    _email(
        "no_show_followup",
        1,
        "Le echamos de menos",
        "Hola {given_name}:\n\nNo pudimos verle en su cita del {starts_at_local}. Reserve otra hora en su "
        "portal ({portal_url}) o llámenos al {clinic_phone}.\n\n{crisis}",
    ),
    _sms(
        "no_show_followup",
        1,
        "{sender}: No pudimos verle hoy. Reserve otra hora en su portal: {portal_url} o llame al"
        " {clinic_phone}.",
    ),
    _email(
        "course_survey",
        1,
        "Una breve encuesta",
        "Hola {given_name}:\n\n¿Cómo se encuentra? Dedique unos minutos a nuestra encuesta: {survey_url}"
        "\n\n¿Preguntas? Llámenos al {clinic_phone}.\n\n{crisis}",
    ),
    _sms("course_survey", 1, "{sender}: ¿Cómo se encuentra? Responda nuestra breve encuesta: {survey_url}"),
    _sms(
        "sms_opt_out_confirmation",
        1,
        "{sender}: Ya no recibirá mensajes de texto. Responda START para volver a recibirlos. Ayuda:"
        " {clinic_phone}",
    ),
    _sms(
        "sms_opt_in_confirmation",
        1,
        "{sender}: Volverá a recibir mensajes. Pueden aplicarse tarifas. Responda HELP para ayuda, STOP"
        " para no recibirlos.",
    ),
    _sms(
        "sms_help",
        1,
        "{sender}: Ayuda: llame al {clinic_phone} o visite {portal_url}. Responda STOP para no recibir"
        " mensajes. En crisis llame al 988.",
    ),
    # v2, issue 29: el enlace personal cabe en cada mensaje de texto (ver patient_en)
    _sms(
        "consultation_ack",
        2,
        "{sender}: Recibimos su solicitud; confirmaremos una hora. ¿Crisis? Llame al 988."
        " {portal_url} STOP: baja",
    ),
    _sms(
        "booking_confirmation",
        2,
        "{sender}: Cita confirmada: {starts_at_short}. Detalles: {portal_url} STOP para no recibir mensajes.",
    ),
    _sms(
        "appointment_reminder_24h",
        2,
        "{sender}: Recordatorio: cita el {starts_at_short}. Detalles: {portal_url} STOP: baja",
    ),
    _email(
        "appointment_reminder_2h",
        2,
        "Su cita es pronto",
        "Hola {given_name}:\n\nSu cita empieza el {starts_at_local}.\n"
        "Si no puede venir, llámenos al {clinic_phone}.\nDetalles: {portal_url}",
    ),
    _sms(
        "appointment_reminder_2h",
        2,
        "{sender}: Su cita empieza {starts_at_short}. ¿No puede venir? Llame al {clinic_phone}. {portal_url}",
    ),
    _sms(
        "plan_ahead",
        2,
        "{sender}: Visita {starts_at_short}: vuelva acompañado, no conduzca hasta el otro día."
        " Ayuno: {portal_url}",
    ),
    _sms(
        "aftercare",
        2,
        "{sender}: Descanse hoy; no conduzca hasta mañana. Cuidados: {portal_url} ¿Crisis? Llame al 988.",
    ),
    _sms(
        "sms_opt_in_confirmation",
        2,
        "{sender}: Volverá a recibir mensajes. Pueden aplicarse tarifas. HELP: ayuda, STOP: baja."
        " {portal_url}",
    ),
    _sms(
        "sms_help",
        2,
        "{sender}: Ayuda: llame al {clinic_phone} o visite {portal_url} STOP: baja. En crisis llame al 988.",
    ),
)
