-- The search's read of the bookings in its window (busy_intervals, inside lock_calendar_for_search)
-- was planned anew on two bookings in three: the planner keeps a custom plan for a statement whose
-- generic plan it estimates dearer, and vacuuming the appointments table throws the cached plans
-- away anyway. Planning it cost ~0.35 ms a booking (1,020 ms of planning against 185 ms of
-- execution in a 25-second saturation run, pg_stat_statements with track_planning) — inside the
-- calendar lock, the one serial section. The generic plan is the custom one's shape (the bitmap scan
-- of the reserving-time index; same execution time measured at 384 bookings in the window), so
-- the function plans it once per session.
ALTER FUNCTION lock_calendar_for_search(bigint, text, text[], timestamptz, interval)
    SET plan_cache_mode = force_generic_plan;
