-- What staff entered through the console during a dosing visit (the REMS monitoring form's fields
-- that no event carries), written when the owning service accepted the action.
CREATE TABLE visit_records (
    appointment_id uuid PRIMARY KEY,
    fields jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL
);
