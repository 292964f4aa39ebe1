-- The outbox is a queue: every row is deleted once published, so under load it holds a few live
-- rows and thousands of dead ones, and the relay's read (published_at IS NULL ORDER BY id) walks
-- them until vacuum removes them. Vacuum it after a fixed number of deletes, not a share of its
-- (tiny) size, and without the cost-based pauses. How often autovacuum looks at all is the server's
-- autovacuum_naptime (docs/operations.md: 10 s for katflow).
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);
