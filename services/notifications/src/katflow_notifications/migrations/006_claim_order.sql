-- The claim's order (urgent first, then due time, then queue order) read straight from an index, so a
-- claim stops at its LIMIT instead of sorting every due delivery of a backlog; and a lane's pending
-- deliveries by queue order, for the head-of-lane check.
CREATE INDEX deliveries_claim_order ON deliveries (urgent DESC, next_attempt_at, queued_seq)
    WHERE status IN ('queued', 'sending');
DROP INDEX deliveries_lane_pending;
CREATE INDEX deliveries_lane_pending ON deliveries (lane, queued_seq) WHERE status IN ('queued', 'sending');
