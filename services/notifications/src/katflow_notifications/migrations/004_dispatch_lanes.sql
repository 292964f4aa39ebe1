-- A delivery's lane: the recipient whose messages go out one at a time, in queue order (a patient, or
-- the address of a keyword reply; any other delivery is a lane of its own). The dispatcher claims a
-- delivery only while no other delivery of its lane is being sent (status 'sending', lease running),
-- so a slow message holds back its own recipient's next one and nobody else's.
ALTER TABLE deliveries ADD COLUMN lane text
    GENERATED ALWAYS AS (coalesce(patient_id::text, address, id::text)) STORED NOT NULL;
CREATE INDEX deliveries_lane_sending ON deliveries (lane, next_attempt_at) WHERE status = 'sending';
