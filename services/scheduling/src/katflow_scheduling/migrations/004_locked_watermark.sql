-- A booking takes the calendar lock and reads the generation and its need's watermark in one round
-- trip, one fewer while the lock is held. It has to be a function: a single statement reads with a
-- snapshot taken before it waited for the lock, and would miss what the lock's previous holder
-- committed (time it freed, a generation it moved); a volatile function's queries each take a
-- fresh snapshot, so the read below sees it.
CREATE FUNCTION lock_calendar_read_watermark(lock_key bigint, need_key text)
    RETURNS TABLE (generation bigint, searched_from timestamptz, full_until timestamptz)
    LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT g.generation, w.searched_from, w.full_until FROM calendar_generation g
        LEFT JOIN search_watermarks w ON w.need = need_key AND w.generation = g.generation;
END $$;
