-- Audit trail: who did what to which patient or course, when, and how it ended. Append-only: a
-- trigger refuses UPDATE, DELETE and TRUNCATE for every role, the table owner included. Records are
-- kept at least 6 years (docs/security.md); nothing in katflow deletes them.
CREATE TABLE audit_log (
    id           bigserial   PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    service      text        NOT NULL,
    actor        text        NOT NULL,
    role         text        NOT NULL,
    auth_method  text        NOT NULL,
    action       text        NOT NULL,
    patient_id   uuid,
    course_id    uuid,
    resource     jsonb       NOT NULL DEFAULT '{}',
    outcome      text        NOT NULL CHECK (outcome IN ('ok', 'denied', 'rejected', 'error')),
    status       integer,
    request_id   text,
    detail       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time ON audit_log (occurred_at);
CREATE INDEX audit_log_patient ON audit_log (patient_id, id) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_course ON audit_log (course_id, id) WHERE course_id IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor, id);

COMMENT ON TABLE audit_log IS
    'Append-only audit trail of PHI access and outbound messages; retain >= 6 years (docs/security.md).';

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
