-- Each delivery is updated twice on its way out (queued → sending → sent), and neither update can be
-- HOT (status and next_attempt_at are indexed), so every one leaves a dead row version and an entry
-- in each index; the claim's index scans (deliveries_claim_order, deliveries_lane_pending) walk those
-- until vacuum removes them. Measured after three minutes of saturation: a claim took 2.4 ms with
-- ~21,000 dead versions, 0.5 ms with vacuum keeping up. Vacuum after 5 % of the table changed (not
-- the default 20 %), without the cost-based pauses.
ALTER TABLE deliveries SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);
