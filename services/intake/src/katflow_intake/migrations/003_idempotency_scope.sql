-- An Idempotency-Key is its caller's: unique per scope (the credential, or for the anonymous public
-- form the request itself), no longer across all callers (someone else's key returned their ids).
-- Rows stored before have no scope: NULLs are distinct, so no later request is taken for them.
ALTER TABLE consultation_requests
    ADD COLUMN idempotency_scope text,
    DROP CONSTRAINT consultation_requests_idempotency_key_key,
    ADD CONSTRAINT consultation_requests_idempotency UNIQUE (idempotency_scope, idempotency_key);
