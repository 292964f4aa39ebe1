-- The treatment course in scheduling: route and pinned protocol, dosing sessions, appointment life.
ALTER TABLE courses
    ADD COLUMN route             text,
    ADD COLUMN protocol_version  text,
    ADD COLUMN status            text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'dosing', 'completed', 'halted', 'ended')),
    ADD COLUMN prepared_at       timestamptz,
    ADD COLUMN completed_at      timestamptz;

-- Appointments hold clinician and room while scheduled, checked in or in monitoring.
ALTER TABLE appointments
    DROP CONSTRAINT appointments_clinician_id_during_excl,
    DROP CONSTRAINT appointments_room_id_during_excl,
    ADD COLUMN dose_number         int CHECK (dose_number >= 1),
    ADD COLUMN follows_session_id  uuid,
    ADD COLUMN protocol_version    text,
    ADD COLUMN check_in            jsonb,
    ADD COLUMN checked_in_at       timestamptz,
    ADD COLUMN closed_at           timestamptz,
    ADD COLUMN closed_reason       text,
    ADD COLUMN closed_by           text,
    ADD CONSTRAINT appointments_status_check CHECK (status IN
        ('scheduled', 'checked_in', 'in_monitoring', 'completed', 'cancelled', 'missed')),
    ADD CONSTRAINT appointments_clinician_excl EXCLUDE USING gist (clinician_id WITH =, during WITH &&)
        WHERE (status IN ('scheduled', 'checked_in', 'in_monitoring')),
    ADD CONSTRAINT appointments_room_excl EXCLUDE USING gist (room_id WITH =, during WITH &&)
        WHERE (status IN ('scheduled', 'checked_in', 'in_monitoring') AND room_id IS NOT NULL);
-- one open dosing appointment per course, one open integration appointment per dose
CREATE UNIQUE INDEX appointments_open_dosing ON appointments (course_id)
    WHERE kind = 'dosing' AND status IN ('scheduled', 'checked_in', 'in_monitoring');
CREATE UNIQUE INDEX appointments_open_integration ON appointments (follows_session_id)
    WHERE kind = 'integration' AND status IN ('scheduled', 'checked_in');

-- The session record of each dose: route, dose, monitoring, vitals, adverse events. No therapy notes.
CREATE TABLE sessions (
    id                     uuid PRIMARY KEY,
    appointment_id         uuid NOT NULL UNIQUE REFERENCES appointments(id),
    course_id              uuid NOT NULL REFERENCES courses(id),
    dose_number            int NOT NULL CHECK (dose_number >= 1),
    route                  text NOT NULL,
    protocol_version       text NOT NULL,
    dose_mg                numeric(7, 2) NOT NULL,
    dose_mg_per_kg         numeric(5, 3),
    dose_day               date NOT NULL,
    pre_dose_systolic      int NOT NULL,
    pre_dose_diastolic     int NOT NULL,
    administered_by        text NOT NULL,
    administered_at        timestamptz NOT NULL,
    monitoring_ended_at    timestamptz,
    vitals                 jsonb,
    adverse_events         jsonb NOT NULL DEFAULT '[]',
    discharged_by          text,
    integration_opens_at   timestamptz,
    integration_closes_at  timestamptz,
    integration_due_at     timestamptz,
    integration_held_at    timestamptz,
    integration_overdue_at timestamptz,
    UNIQUE (course_id, dose_number),
    UNIQUE (course_id, dose_day)  -- never two doses on one day
);
