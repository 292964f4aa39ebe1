-- deliveries_due (next_attempt_at, for queued and sending deliveries) is what the claim used before
-- deliveries_claim_order (006) gave it its order; nothing else reads it. Left in place, the planner
-- took it whenever its statistics put the queue at a handful of rows (a backlog that built up since
-- the last ANALYZE): every due delivery was read and checked for its lane, then sorted, before the
-- LIMIT. Measured at saturation with ~340 deliveries queued: 5.4–14.5 ms per claim with it, 0.75–0.97
-- ms without it (the claim then walks deliveries_claim_order in order and stops at its LIMIT). One
-- index fewer to write, too.
DROP INDEX deliveries_due;
