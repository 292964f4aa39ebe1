-- Patients found by name and date of birth (from the restricted contact topic).
ALTER TABLE patient_names ADD COLUMN date_of_birth date;
CREATE INDEX patient_names_family ON patient_names (lower(family_name));
