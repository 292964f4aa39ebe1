-- The dispatcher claims only a lane's head: its earliest-queued due delivery, and none while one of
-- its deliveries is being sent (see 004). One index serves both checks: a lane's pending deliveries.
DROP INDEX deliveries_lane_sending;
CREATE INDEX deliveries_lane_pending ON deliveries (lane) WHERE status IN ('queued', 'sending');
