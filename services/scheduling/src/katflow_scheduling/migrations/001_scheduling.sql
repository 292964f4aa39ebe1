CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE clinicians (
    id            text PRIMARY KEY,
    display_name  text NOT NULL,
    roles         text[] NOT NULL
);

CREATE TABLE rooms (
    id            text PRIMARY KEY,
    display_name  text NOT NULL
);

-- The course as scheduling knows it: ids and the patient's zone, nothing identifying.
CREATE TABLE courses (
    id                 uuid PRIMARY KEY,
    patient_id         uuid NOT NULL,
    patient_time_zone  text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE appointments (
    id            uuid PRIMARY KEY,
    course_id     uuid NOT NULL REFERENCES courses(id),
    kind          text NOT NULL CHECK (kind IN ('consultation', 'preparation', 'dosing', 'integration')),
    clinician_id  text NOT NULL REFERENCES clinicians(id),
    room_id       text REFERENCES rooms(id),
    during        tstzrange NOT NULL,
    status        text NOT NULL DEFAULT 'scheduled',
    cause_event   uuid UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- never double-book a clinician or a room while the appointment stands
    EXCLUDE USING gist (clinician_id WITH =, during WITH &&) WHERE (status = 'scheduled'),
    EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (status = 'scheduled' AND room_id IS NOT NULL)
);
CREATE INDEX appointments_course ON appointments (course_id);
