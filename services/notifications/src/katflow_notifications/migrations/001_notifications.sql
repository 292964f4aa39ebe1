-- Patients as notifications knows them: contact details and consent from the restricted topic.
CREATE TABLE recipients (
    patient_id          uuid PRIMARY KEY,
    given_name          text NOT NULL,
    email               text,
    phone               text,
    time_zone           text NOT NULL,
    email_consent       boolean NOT NULL DEFAULT false,
    sms_consent         boolean NOT NULL DEFAULT false,
    consent_updated_at  timestamptz,
    updated_at          timestamptz NOT NULL
);

-- One row per message to send: idempotent per (event, recipient, channel, template).
CREATE TABLE deliveries (
    id                uuid PRIMARY KEY,
    idempotency_key   text NOT NULL UNIQUE,
    event_id          uuid NOT NULL,
    course_id         uuid,
    patient_id        uuid,
    staff_id          text,
    audience          text NOT NULL CHECK (audience IN ('patient', 'staff')),
    channel           text NOT NULL,
    template_id       text NOT NULL,
    template_version  int  NOT NULL,
    context           jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'suppressed')),
    attempts          int  NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    provider_id       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_course ON deliveries (course_id);
CREATE INDEX deliveries_patient ON deliveries (patient_id);
