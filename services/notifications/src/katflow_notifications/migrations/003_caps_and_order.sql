-- A capped text admitted by the frequency cap, not yet settled: counted by every replica's cap check
-- (taken under a per-patient lock), so two replicas cannot both admit a patient's last text of the day.
ALTER TABLE deliveries ADD COLUMN cap_admitted_at timestamptz;

-- Queue order: deliveries due at the same instant go out in the order they were queued (a patient's
-- "confirmed" before "moved"), not in the order of their random ids.
ALTER TABLE deliveries ADD COLUMN queued_seq bigint GENERATED ALWAYS AS IDENTITY;
