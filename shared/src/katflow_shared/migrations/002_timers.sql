-- Durable timers: reminders, IntegrationDue, overdue escalations, monitoring prompts.
-- (kind, key) is unique while pending, so scheduling again moves the timer instead of duplicating it.
CREATE TABLE timers (
    id         bigserial PRIMARY KEY,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    due_at     timestamptz NOT NULL,
    payload    jsonb       NOT NULL DEFAULT '{}',
    status     text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'fired', 'cancelled', 'failed')),
    error      text,
    fired_at   timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX timers_pending_key ON timers (kind, key) WHERE status = 'pending';
CREATE INDEX timers_due ON timers (due_at) WHERE status = 'pending';
