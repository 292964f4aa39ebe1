-- RFC 8058 one-click unsubscribe (issue 29): the patient stopped optional messages (surveys) at this
-- time; appointment-critical messages are not optional and are not affected.
ALTER TABLE recipients ADD COLUMN optional_opted_out_at timestamptz;
