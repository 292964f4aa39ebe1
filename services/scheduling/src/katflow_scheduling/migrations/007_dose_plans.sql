-- The series plan: the day each dose of a dosing phase is planned for (clinic's zone), made when the
-- phase starts and re-made for the doses after one that could not be booked on its planned day.
CREATE TABLE dose_plans (
    course_id    uuid NOT NULL REFERENCES courses(id),
    dose_number  int NOT NULL CHECK (dose_number >= 1),
    phase        text NOT NULL,
    planned_day  date NOT NULL,
    planned_at   timestamptz NOT NULL,
    PRIMARY KEY (course_id, dose_number)
);
