# katflow — the commands a new user types. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
INFRA := deploy/local/infra.sh
# Infrastructure addresses: from the environment when given, else from the local provisioning.
LOCAL_ENV = eval "$$($(INFRA) env)"

.PHONY: help install infra-up infra-down up down test test-fast test-testcontainers demo lint bench

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install:  ## install Python packages (uv + the locked workspace) and system tools (kcat)
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --root-user-action=ignore uv
	@py="$$(deploy/local/python.sh)" && uv sync --frozen --quiet $${py:+--python "$$py"}
	@deploy/local/packages.sh

infra-up: install  ## start Kafka, PostgreSQL and Keycloak locally (installs them on first use)
	@$(INFRA) up

infra-down:  ## stop Kafka, PostgreSQL and Keycloak
	@$(INFRA) down

up: infra-up  ## everything: Kafka, PostgreSQL, Keycloak, SMTP sink, the three services and the staff console; prints URLs and logins
	@$(LOCAL_ENV) && uv run katflow stack up

down:  ## stop the services, then Kafka, PostgreSQL and Keycloak
	@uv run katflow stack down || true
	@$(INFRA) down

demo:  ## with the stack up: submit a consultation request and print its timeline
	@$(LOCAL_ENV) && uv run katflow demo

# The whole suite: every tier on the local infrastructure, except that with containers on (the
# default) the integration tier runs on Kafka and PostgreSQL from testcontainers, on the Docker
# engine the container tests use. PYTEST_ARGS given: one run, on the local infrastructure.
test: install lint  ## install, lint, provision real infrastructure, run the whole suite
	@if [ -z "$$KATFLOW_TEST_KAFKA_BOOTSTRAP" ]; then $(INFRA) up && $(LOCAL_ENV) && \
	  export KATFLOW_TEST_KAFKA_BOOTSTRAP=$$KATFLOW_KAFKA_BOOTSTRAP \
	         KATFLOW_TEST_PG_ADMIN_DSN=$$KATFLOW_PG_ADMIN_DSN \
	         KATFLOW_TEST_INFRA_CONTROL=$(CURDIR)/$(INFRA) \
	         KATFLOW_TEST_KEYCLOAK_URL=$$KATFLOW_KEYCLOAK_URL; fi; \
	export KATFLOW_TEST_CONTAINERS=$${KATFLOW_TEST_CONTAINERS:-1}; \
	if [ "$$KATFLOW_TEST_CONTAINERS" = 1 ] && [ -z "$(PYTEST_ARGS)" ]; then \
	  uv run pytest --ignore=tests/integration && $(MAKE) --no-print-directory test-testcontainers; \
	else uv run pytest $(PYTEST_ARGS); fi

test-fast: install  ## unit tests only (no infrastructure)
	@uv run pytest tests/unit -q

test-testcontainers: install  ## the integration tier on Kafka and PostgreSQL from testcontainers (docker.sh's engine)
	@deploy/local/docker.sh up && eval "$$(deploy/local/docker.sh env)" && \
	  unset KATFLOW_TEST_KAFKA_BOOTSTRAP KATFLOW_TEST_PG_ADMIN_DSN && \
	  TESTCONTAINERS_RYUK_DISABLED=true \
	  KATFLOW_TEST_KAFKA_IMAGE=$${KATFLOW_TEST_KAFKA_IMAGE:-katflow/offline-kafka:4.1.1} \
	  KATFLOW_TEST_PG_IMAGE=$${KATFLOW_TEST_PG_IMAGE:-katflow/offline-postgres:15} \
	  uv run pytest tests/integration $(PYTEST_ARGS)

lint: install  ## ruff (lint + format check) and mypy --strict
	@uv run ruff check -q . && uv run ruff format -q --check . && uv run mypy shared/src services/*/src tools/src clients/katflow_client/src bench

bench: infra-up  ## short benchmark profile (under 5 minutes); prints the table
	@$(LOCAL_ENV) && uv run python -m bench --profile short
