-- Each esketamine session's REMS monitoring form: when it must be filed, and who filed it when.
CREATE TABLE rems_filings (
    session_id uuid PRIMARY KEY,
    appointment_id uuid NOT NULL,
    course_id uuid NOT NULL,
    dose_number int NOT NULL,
    due_on date NOT NULL,
    escalated_at timestamptz,
    filed_by text,
    filed_at timestamptz
);
CREATE INDEX rems_filings_open ON rems_filings (due_on) WHERE filed_at IS NULL;
