-- Issue 27: "who read patient X" must find list answers too. A record names the patients and
-- courses a list answer carried (besides the path's patient_id / course_id); GET /v1/audit's
-- patient_id and course_id filters search both.
ALTER TABLE audit_log ADD COLUMN patient_ids uuid[], ADD COLUMN course_ids uuid[];
CREATE INDEX audit_log_patient_ids ON audit_log USING gin (patient_ids) WHERE patient_ids IS NOT NULL;
CREATE INDEX audit_log_course_ids ON audit_log USING gin (course_ids) WHERE course_ids IS NOT NULL;
