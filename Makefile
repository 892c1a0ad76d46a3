# newsflow — common tasks. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NEWSFLOW := $(VENV)/bin/newsflow
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit lint typecheck bench services-up services-down \
        kafka-up kafka-down pg-up pg-down browser clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-14s %s\n", $$1, $$2}'

# PYTHONWARNINGS silences setuptools' notice that an editable install of a flat
# layout imports the packages from this directory (what we want); other warnings show.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -e '.[test]'
	@touch $@

install: $(STAMP) ## create .venv and install newsflow with its test tools

run: install ## run the offline demo once on the embedded default and print a summary
	$(NEWSFLOW) --config config/demo.yaml run --once
	@echo "See what was stored:  $(NEWSFLOW) --config config/demo.yaml export | head -n 3"

lint: install ## ruff (lint and format)
	$(PY) -m ruff check pipeline connectors tests bench corpus
	$(PY) -m ruff format --check pipeline connectors tests bench corpus

typecheck: install ## mypy
	$(PY) -m mypy pipeline connectors

test-unit: install ## tests that need no service
	$(PY) -m pytest -m "not kafka and not postgres and not browser"

test: install services-up lint typecheck ## the whole suite; starts Kafka, PostgreSQL and Chromium first
	NEWSFLOW_TEST_KAFKA_BOOTSTRAP=$$(tail -n1 .run/kafka.address) \
	NEWSFLOW_TEST_POSTGRES_URL=$$(tail -n1 .run/postgres.address) \
	$(PY) -m pytest

bench: install services-up ## benchmarks, printed side by side with their baselines
	NEWSFLOW_TEST_KAFKA_BOOTSTRAP=$$(tail -n1 .run/kafka.address) $(PY) -m bench.run_all

services-up: kafka-up pg-up browser ## start the local broker and database, install Chromium

services-down: kafka-down pg-down ## stop them

kafka-up: ## start a single-node Apache Kafka 4.x (KRaft) on 127.0.0.1
	@mkdir -p .run && bash deploy/local/kafka.sh up | tee .run/kafka.log.tmp && tail -n1 .run/kafka.log.tmp > .run/kafka.address

kafka-down: ## stop the local broker
	bash deploy/local/kafka.sh down

pg-up: ## start a throwaway PostgreSQL on 127.0.0.1
	@mkdir -p .run && bash deploy/local/postgres.sh up | tee .run/pg.log.tmp && tail -n1 .run/pg.log.tmp > .run/postgres.address

pg-down: ## stop it
	bash deploy/local/postgres.sh down

browser: ## install headless Chromium and chromedriver from Debian packages if missing
	bash deploy/local/chromium.sh

clean: services-down ## stop services, remove local state (keeps .venv and the Kafka jar cache)
	rm -rf .run data
