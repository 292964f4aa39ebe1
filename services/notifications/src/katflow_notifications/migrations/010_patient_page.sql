-- The patient's page (issue 29): the second factor on file, each course's protocol (for the visit
-- instructions), the links every patient message carries, and the patient's page lookups.
ALTER TABLE recipients ADD COLUMN date_of_birth date;

CREATE INDEX appointments_patient ON appointments (patient_id, starts_at);

CREATE TABLE course_protocols (
    course_id         uuid PRIMARY KEY,
    protocol_version  text NOT NULL
);

-- One link per patient message: the token in the URL carries only link_id (and its expiry, signed).
CREATE TABLE portal_links (
    link_id          bytea PRIMARY KEY,
    patient_id       uuid        NOT NULL,
    delivery_id      uuid        NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    failed_attempts  int         NOT NULL DEFAULT 0,
    revoked_at       timestamptz,
    revoked_reason   text
);
CREATE INDEX portal_links_patient ON portal_links (patient_id);
