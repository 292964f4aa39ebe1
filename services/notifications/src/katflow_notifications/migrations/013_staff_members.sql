-- Staff members known from scheduling's ClinicianUpdated (issue 30): a clinician added through the
-- admin API has a feed and gets the alerts of the sessions booked for them (feed channel only: the
-- event carries no address). The staff directory file stays the place for emails and rota groups,
-- and wins when both know a person.
CREATE TABLE staff_members (
    id text PRIMARY KEY,
    clinic_id text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    changed_at timestamptz NOT NULL
);
