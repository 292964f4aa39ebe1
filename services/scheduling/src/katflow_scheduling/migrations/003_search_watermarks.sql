-- How far the slot grid is known to be full, per need (who is needed, for how long), so a booking
-- does not walk a busy calendar from the start every time. A watermark is only trusted while the
-- calendar's generation is the one it was computed at: anything that frees a reserved interval that
-- has not ended yet (cancel, no-show, move, early completion) bumps the generation, in the same
-- transaction, by trigger — no code path can forget it.
CREATE TABLE calendar_generation (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation  bigint NOT NULL
);
INSERT INTO calendar_generation VALUES (true, 0);

CREATE TABLE search_watermarks (
    need           text PRIMARY KEY,
    generation     bigint NOT NULL,
    searched_from  timestamptz NOT NULL,
    full_until     timestamptz NOT NULL
);

CREATE FUNCTION appointments_freed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('scheduled', 'checked_in', 'in_monitoring') AND upper(OLD.during) > now() AND (
        TG_OP = 'DELETE'
        OR NEW.status NOT IN ('scheduled', 'checked_in', 'in_monitoring')
        OR NEW.clinician_id IS DISTINCT FROM OLD.clinician_id
        OR NEW.room_id IS DISTINCT FROM OLD.room_id
        OR NOT (NEW.during @> OLD.during)
    ) THEN
        UPDATE calendar_generation SET generation = generation + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER appointments_freed AFTER UPDATE OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION appointments_freed();

-- What a search reads: reserved intervals overlapping a window. Past and closed appointments pile up
-- over the years; this index keeps the read proportional to the window, not to the table.
CREATE INDEX appointments_reserving_during ON appointments USING gist (during)
    WHERE status IN ('scheduled', 'checked_in', 'in_monitoring');
