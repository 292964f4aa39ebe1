-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- One database per service: no service reads another's tables. Each service applies its own
-- migrations at start (under a PostgreSQL advisory lock), so only the databases are made here.
CREATE DATABASE katflow_intake OWNER katflow;
CREATE DATABASE katflow_scheduling OWNER katflow;
CREATE DATABASE katflow_notifications OWNER katflow;
CREATE DATABASE katflow_console OWNER katflow;
