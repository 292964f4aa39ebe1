-- What a search and a move read: the reserved intervals of some clinicians and rooms overlapping
-- [since, until), but one appointment's own (a move). One definition for both callers below; a
-- plain SQL function, so the planner inlines it and the index on reserved time still applies.
CREATE FUNCTION busy_intervals(resources text[], since timestamptz, until timestamptz, exclude uuid)
    RETURNS TABLE (clinician_id text, room_id text, s timestamptz, e timestamptz)
    LANGUAGE sql STABLE AS $$
    SELECT a.clinician_id, a.room_id, lower(a.during), upper(a.during) FROM appointments a
     WHERE a.status IN ('scheduled', 'checked_in', 'in_monitoring')  -- RESERVING, as the index says
       AND (a.clinician_id = ANY(resources) OR a.room_id = ANY(resources))
       AND a.during && tstzrange(since, until) AND (exclude IS NULL OR a.id <> exclude)
$$;

-- A booking takes the calendar lock, reads the generation and its need's watermark, and reads the
-- bookings of the first search window in one round trip: the lock is held from here to the
-- booking's commit, so every round trip saved inside it is a booking more per second. The window
-- starts where the search resumes (Watermark.resume_at in the domain; the search checks that it got
-- the window it wanted and reads again if not, so this is a prefetch, never the rule). As in
-- lock_calendar_read_watermark before it, this has to be a function: a single statement reads with
-- a snapshot taken before it waited for the lock and would miss what the lock's previous holder
-- committed; a volatile function's queries each take a fresh snapshot.
DROP FUNCTION lock_calendar_read_watermark(bigint, text);

CREATE FUNCTION lock_calendar_for_search(
    lock_key bigint, need_key text, resources text[], earliest timestamptz, span interval
) RETURNS TABLE (
    generation bigint, searched_from timestamptz, full_until timestamptz, since timestamptz,
    clinician_ids text[], room_ids text[], starts timestamptz[], ends timestamptz[]
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT g.generation, w.searched_from, w.full_until INTO generation, searched_from, full_until
        FROM calendar_generation g
        LEFT JOIN search_watermarks w ON w.need = need_key AND w.generation = g.generation;
    since := CASE WHEN searched_from <= earliest AND earliest < full_until THEN full_until ELSE earliest END;
    SELECT array_agg(b.clinician_id), array_agg(b.room_id), array_agg(b.s), array_agg(b.e)
        INTO clinician_ids, room_ids, starts, ends
        FROM busy_intervals(resources, since, since + span, NULL) b;
    RETURN NEXT;
END $$;
