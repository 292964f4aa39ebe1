-- The public form's per-destination limit: one row per email address and phone number a request
-- names, as the SHA-256 of its normalised form (never the address itself), kept for a day.
CREATE TABLE public_form_destinations (
    destination   text NOT NULL,
    requested_at  timestamptz NOT NULL
);
CREATE INDEX public_form_destinations_recent ON public_form_destinations (destination, requested_at);
CREATE INDEX public_form_destinations_age ON public_form_destinations (requested_at);
-- the global limit counts the last hour's requests
CREATE INDEX consultation_requests_requested_at ON consultation_requests (requested_at);
