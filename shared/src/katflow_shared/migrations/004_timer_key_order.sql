-- Timer keys are identifiers ("reminder:<course>:<appointment>:..."): sort them bytewise, whatever
-- the database's collation, so the keys that start with a prefix are one range of an index on the
-- key (timers.cancel reads that range, of any kind; under a linguistic collation a prefix is not a
-- range, and with a parameter for the prefix the planner could not tell).
ALTER TABLE timers ALTER COLUMN key TYPE text COLLATE "C";
CREATE INDEX timers_pending_key_range ON timers (key) WHERE status = 'pending';
