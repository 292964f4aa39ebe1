-- Screening, eligibility, urgent alerts and the preparation checklist of a course.
ALTER TABLE courses
    ADD COLUMN route             text,
    ADD COLUMN protocol_version  text,
    ADD COLUMN halted_at         timestamptz,
    ADD COLUMN prepared_at       timestamptz,
    ADD CONSTRAINT courses_phase_check CHECK (phase IN
        ('consultation', 'screened', 'clinician_review', 'not_eligible', 'preparation', 'prepared', 'ended'));

-- Clinical content: stays in intake, never on a topic.
CREATE TABLE screenings (
    id                 uuid PRIMARY KEY,
    course_id          uuid NOT NULL REFERENCES courses(id),
    phq9               int NOT NULL,
    gad7               int,
    pcl5               int,
    cssrs              jsonb NOT NULL,
    systolic           int NOT NULL,
    diastolic          int NOT NULL,
    contraindications  text[] NOT NULL,
    blocking           text[] NOT NULL,
    review_flags       text[] NOT NULL,
    high_risk          boolean NOT NULL,
    rules_version      text NOT NULL,
    screened_by        text NOT NULL,
    screened_at        timestamptz NOT NULL
);
CREATE INDEX screenings_course ON screenings (course_id, screened_at);

CREATE TABLE eligibility_decisions (
    id                uuid PRIMARY KEY,
    course_id         uuid NOT NULL REFERENCES courses(id),
    screening_id      uuid REFERENCES screenings(id),
    outcome           text NOT NULL CHECK (outcome IN ('eligible', 'not_eligible', 'clinician_review')),
    route             text,
    protocol_version  text,
    decided_by        text NOT NULL,
    decided_at        timestamptz NOT NULL
);

CREATE TABLE urgent_alerts (
    id            uuid PRIMARY KEY,
    course_id     uuid NOT NULL REFERENCES courses(id),
    screening_id  uuid NOT NULL REFERENCES screenings(id),
    raised_at     timestamptz NOT NULL,
    resolved_at   timestamptz,
    resolved_by   text,
    decision      text CHECK (decision IN ('resume', 'end'))
);

CREATE TABLE preparation_sessions (
    id            uuid PRIMARY KEY,
    course_id     uuid NOT NULL REFERENCES courses(id),
    held_on       date NOT NULL,
    clinician_id  text NOT NULL,
    recorded_at   timestamptz NOT NULL
);

-- One row per checklist item (consent, intention, baseline, ride_home, rems_enrollment); the latest wins.
CREATE TABLE preparation_items (
    course_id     uuid NOT NULL REFERENCES courses(id),
    item          text NOT NULL CHECK (item IN ('consent', 'intention', 'baseline', 'ride_home', 'rems_enrollment')),
    details       jsonb NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL,
    PRIMARY KEY (course_id, item)
);
