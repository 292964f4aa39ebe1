-- The console's read model: projections of the workflow topics (and patient names from the
-- restricted contact topic), and the staff's browser sessions.
CREATE TABLE course_events (
    event_id text PRIMARY KEY,
    course_id uuid NOT NULL,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX course_events_course ON course_events (course_id, occurred_at);

CREATE TABLE board_appointments (
    appointment_id uuid PRIMARY KEY,
    course_id uuid NOT NULL,
    patient_id uuid NOT NULL,
    kind text NOT NULL,
    clinician_id text NOT NULL,
    room_id text,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    status text NOT NULL,
    status_at timestamptz NOT NULL
);
CREATE INDEX board_appointments_start ON board_appointments (starts_at);

CREATE TABLE patient_names (
    patient_id uuid PRIMARY KEY,
    given_name text NOT NULL,
    family_name text NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE course_patients (
    course_id uuid PRIMARY KEY,
    patient_id uuid NOT NULL
);

CREATE TABLE alerts (
    event_id text PRIMARY KEY,
    course_id uuid NOT NULL,
    kind text NOT NULL,
    urgent boolean NOT NULL,
    raised_at timestamptz NOT NULL,
    summary text NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz,
    resolved_by text,
    resolved_at timestamptz
);
CREATE INDEX alerts_open ON alerts (urgent DESC, raised_at) WHERE resolved_at IS NULL;

CREATE TABLE console_sessions (
    id_hash text PRIMARY KEY,
    subject text NOT NULL,
    name text NOT NULL,
    roles text[] NOT NULL,
    access_token text NOT NULL,
    refresh_token text,
    access_expires_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE console_logins (
    state text PRIMARY KEY,
    code_verifier text NOT NULL,
    next_path text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
