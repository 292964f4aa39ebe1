CREATE TABLE patients (
    id              uuid PRIMARY KEY,
    given_name      text NOT NULL,
    family_name     text NOT NULL,
    date_of_birth   date NOT NULL,
    email           text,
    phone           text,
    time_zone       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Consent per channel, off until captured; a new row per change keeps the history.
CREATE TABLE contact_consents (
    id           bigserial PRIMARY KEY,
    patient_id   uuid NOT NULL REFERENCES patients(id),
    channel      text NOT NULL CHECK (channel IN ('email', 'sms')),
    granted      boolean NOT NULL,
    captured_at  timestamptz NOT NULL,
    method       text NOT NULL
);

CREATE TABLE courses (
    id               uuid PRIMARY KEY,
    patient_id       uuid NOT NULL REFERENCES patients(id),
    preferred_route  text,
    phase            text NOT NULL DEFAULT 'consultation',
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consultation_requests (
    id               uuid PRIMARY KEY,
    course_id        uuid NOT NULL REFERENCES courses(id),
    patient_id       uuid NOT NULL REFERENCES patients(id),
    indication       text NOT NULL,
    idempotency_key  text UNIQUE,
    requested_at     timestamptz NOT NULL
);
