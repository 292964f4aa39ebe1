-- Which protocol version new courses of a route are pinned to (issue 30): an admin's activations,
-- newest last. A route with none pins its first version on file.
CREATE TABLE protocol_activations (
    id                bigserial PRIMARY KEY,
    route             text        NOT NULL,
    protocol_version  text        NOT NULL,
    activated_at      timestamptz NOT NULL,
    activated_by      text        NOT NULL
);
CREATE INDEX protocol_activations_route ON protocol_activations (route, id DESC);
