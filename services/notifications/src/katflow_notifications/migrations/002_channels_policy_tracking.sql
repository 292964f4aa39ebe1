-- Issue 5: channels, policy, reminders and delivery tracking.

-- Consent per channel with when/how it was captured (newest capture wins); a locale for templates.
ALTER TABLE recipients
    ADD COLUMN locale               text,
    ADD COLUMN email_consent_at     timestamptz,
    ADD COLUMN email_consent_method text,
    ADD COLUMN sms_consent_at       timestamptz,
    ADD COLUMN sms_consent_method   text;
UPDATE recipients SET email_consent_at = consent_updated_at, sms_consent_at = consent_updated_at;
CREATE INDEX recipients_phone ON recipients (phone);

-- An opt-out (STOP, ...) binds the number, whoever it belongs to; START lifts it.
CREATE TABLE sms_opt_outs (
    phone       text PRIMARY KEY,
    opted_out   boolean     NOT NULL,
    keyword     text        NOT NULL,
    changed_at  timestamptz NOT NULL
);

-- Deliveries: what policy decided and why, the fallback chain, and the provider's verdict.
ALTER TABLE deliveries
    ADD COLUMN notification     text,
    ADD COLUMN locale           text NOT NULL DEFAULT 'en',
    ADD COLUMN appointment_id   uuid,
    ADD COLUMN address          text,
    ADD COLUMN urgent           boolean NOT NULL DEFAULT false,
    ADD COLUMN automated        boolean NOT NULL DEFAULT false,
    ADD COLUMN exempt           boolean NOT NULL DEFAULT false,
    ADD COLUMN fallback_of      uuid REFERENCES deliveries (id),
    ADD COLUMN reason           text,
    ADD COLUMN delivered_at     timestamptz,
    ADD COLUMN failed_at        timestamptz,
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();
UPDATE deliveries SET notification = template_id WHERE notification IS NULL;
ALTER TABLE deliveries ALTER COLUMN notification SET NOT NULL;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check CHECK (
    status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'suppressed', 'cancelled'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_audience_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_audience_check CHECK (
    audience IN ('patient', 'staff', 'integrator'));
CREATE INDEX deliveries_provider ON deliveries (provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX deliveries_appointment ON deliveries (appointment_id) WHERE appointment_id IS NOT NULL;
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_sms_cap ON deliveries (patient_id, sent_at) WHERE channel = 'sms' AND automated;

-- Every try to hand a message to a provider (audit: channel, template, recipient, provider id, status).
CREATE TABLE delivery_attempts (
    delivery_id   uuid        NOT NULL REFERENCES deliveries (id),
    attempt       int         NOT NULL,
    attempted_at  timestamptz NOT NULL,
    outcome       text        NOT NULL CHECK (outcome IN ('accepted', 'transient', 'permanent')),
    error_code    text,
    provider_id   text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Provider status callbacks as received (delivered / failed ...).
CREATE TABLE delivery_status_reports (
    id               bigserial PRIMARY KEY,
    delivery_id      uuid        NOT NULL REFERENCES deliveries (id),
    provider_status  text        NOT NULL,
    error_code       text,
    applied          boolean     NOT NULL,
    received_at      timestamptz NOT NULL
);

-- Signed inbound webhooks already processed: a replayed webhook-id changes nothing.
CREATE TABLE inbound_webhooks (
    webhook_id   text PRIMARY KEY,
    kind         text        NOT NULL,
    received_at  timestamptz NOT NULL
);

-- Inbound texts: the keyword understood, never the message text (it may hold clinical content).
CREATE TABLE inbound_sms (
    id           bigserial PRIMARY KEY,
    webhook_id   text        NOT NULL,
    from_phone   text        NOT NULL,
    keyword      text        NOT NULL,
    received_at  timestamptz NOT NULL
);

-- Appointments as notifications knows them (for cancellation notices and reminder bookkeeping).
CREATE TABLE appointments (
    appointment_id  uuid PRIMARY KEY,
    course_id       uuid        NOT NULL,
    patient_id      uuid        NOT NULL,
    kind            text        NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    time_zone       text        NOT NULL,
    status          text        NOT NULL DEFAULT 'scheduled',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointments_course ON appointments (course_id);

-- In-app staff feed (server-sent events read it by id).
CREATE TABLE feed_items (
    id            bigserial PRIMARY KEY,
    staff_id      text        NOT NULL,
    delivery_id   uuid        NOT NULL UNIQUE,
    notification  text        NOT NULL,
    title         text        NOT NULL,
    body          text        NOT NULL,
    urgent        boolean     NOT NULL,
    course_id     uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz
);
CREATE INDEX feed_items_staff ON feed_items (staff_id, id);
