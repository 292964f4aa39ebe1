-- The clinic as data (issue 30): admins change clinicians, rooms, opening hours, closures and time
-- off at run time; the clinic file is only the seed of a clinic the database does not have yet. Every
-- row names its clinic (one, 'main', by default), so a group of clinics can share a deployment later.
CREATE TABLE clinics (
    id             text PRIMARY KEY,
    settings       jsonb NOT NULL,  -- time zone, slot and visit lengths, lead time, horizon, ...
    opening_hours  jsonb NOT NULL,  -- weekday -> [opens, closes] in the clinic's zone
    created_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE clinicians
    ADD COLUMN clinic_id       text NOT NULL DEFAULT 'main',
    ADD COLUMN qualifications  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN hours           jsonb,  -- weekday -> [from, to]; NULL: the clinic's opening hours
    ADD COLUMN seq             bigserial;  -- the order bookings try them in

ALTER TABLE rooms
    ADD COLUMN clinic_id     text NOT NULL DEFAULT 'main',
    ADD COLUMN capabilities  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN seq           bigserial;

CREATE TABLE closures (
    clinic_id  text NOT NULL REFERENCES clinics(id),
    day        date NOT NULL,
    label      text NOT NULL DEFAULT '',
    PRIMARY KEY (clinic_id, day)
);

CREATE TABLE time_off (
    id            uuid PRIMARY KEY,
    clinic_id     text NOT NULL REFERENCES clinics(id),
    clinician_id  text NOT NULL REFERENCES clinicians(id),
    first_day     date NOT NULL,
    last_day      date NOT NULL CHECK (first_day <= last_day)
);
CREATE INDEX time_off_clinician ON time_off (clinician_id);

-- Each process caches the clinic; an admin change bumps clinic_version (and the calendar generation:
-- a new clinician, room or open day can free grid that a watermark proved full). A booking reads the
-- version under the calendar lock and refuses to decide on an older snapshot than the database's.
ALTER TABLE calendar_generation ADD COLUMN clinic_version bigint NOT NULL DEFAULT 0;

DROP FUNCTION lock_calendar_for_search(bigint, text, text[], timestamptz, interval);

CREATE FUNCTION lock_calendar_for_search(
    lock_key bigint, need_key text, resources text[], earliest timestamptz, span interval
) RETURNS TABLE (
    generation bigint, clinic_version bigint, searched_from timestamptz, full_until timestamptz,
    since timestamptz, clinician_ids text[], room_ids text[], starts timestamptz[], ends timestamptz[]
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT g.generation, g.clinic_version, w.searched_from, w.full_until
        INTO generation, clinic_version, searched_from, full_until
        FROM calendar_generation g
        LEFT JOIN search_watermarks w ON w.need = need_key AND w.generation = g.generation;
    since := CASE WHEN searched_from <= earliest AND earliest < full_until THEN full_until ELSE earliest END;
    SELECT array_agg(b.clinician_id), array_agg(b.room_id), array_agg(b.s), array_agg(b.e)
        INTO clinician_ids, room_ids, starts, ends
        FROM busy_intervals(resources, since, since + span, NULL) b;
    RETURN NEXT;
END $$;

-- as migration 006 set for the function this one replaces: planned once per session
ALTER FUNCTION lock_calendar_for_search(bigint, text, text[], timestamptz, interval)
    SET plan_cache_mode = force_generic_plan;
