-- The consent rule (domain/consent.py: the newest capture wins), for the one-statement contact upsert
-- (adapters/postgres_recipients.py): an incoming consent replaces the one on file when it is dated
-- and newer, or when nothing dated is on file; an undated one replaces only an undated one. So an
-- older intake record never undoes a later STOP. Plain SQL expressions, inlined by the planner.
CREATE FUNCTION consent_is_newer(incoming timestamptz, on_file timestamptz) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN incoming IS NULL THEN on_file IS NULL ELSE on_file IS NULL OR incoming > on_file END;

-- When the consent that stays was captured.
CREATE FUNCTION consent_newest_at(incoming timestamptz, on_file timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN consent_is_newer(incoming, on_file) THEN incoming ELSE on_file END;
