-- Which patient a staff feed item is about (issue 27): the feed's reads name them in the audit trail.
ALTER TABLE feed_items ADD COLUMN patient_id uuid;
