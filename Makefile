# The two commands: `make demo` and `make test`. Everything they need is set up here.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test unit integration lint install system-deps bench screenshots compose-check clean

$(STAMP): requirements.lock pyproject.toml
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version.split()[0]}"'
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## The embedded default: file event log + chDB under ./.modeldb. No server needed.
demo: install
	$(BIN)/modeldb demo

## Debian's clickhouse-server and clickhouse-client, Chromium, the machine's Java 17 and Apache Kafka's jars from Maven Central (cached).
system-deps: install
	@if [ ! -x /usr/sbin/clickhouse-server ]; then \
	  echo "installing clickhouse-server from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null; fi
	@command -v clickhouse-client >/dev/null || { echo "installing clickhouse-client from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-client >/dev/null; }
	@command -v java >/dev/null || { echo "installing Java 17"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@[ -x /usr/bin/chromium ] || { echo "installing Debian's Chromium (the dashboard's browser test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@command -v mvn >/dev/null || { echo "installing Maven"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null; }
	$(BIN)/python -c 'from modeldb.devtools.services import kafka_libs; print("kafka jars:", kafka_libs())'

## Unit tests (no services), then integration tests. The integration session
## starts Kafka (KRaft) and clickhouse-server on free loopback ports and stops them.
test: system-deps lint
	$(BIN)/python -m pytest -q tests/unit tests/integration

## The import contract (pyproject's [tool.importlinter]): the layers of DESIGN.md, no import circles.
lint: install
	$(BIN)/python tools/lint_imports.py

unit: install
	$(BIN)/python -m pytest -q tests/unit

integration: system-deps
	$(BIN)/python -m pytest -q tests/integration

bench: system-deps
	$(BIN)/python bench/foundation.py

## The README's dashboard pictures: the browser tests take them as they check each view.
SHOTS := overview models-names models-metric-names models-default-chart models-compare models-curves \
         pipelines-graph pipelines-drilldown lineage sql
screenshots: system-deps
	$(BIN)/python -m pytest -q tests/integration/browser
	mkdir -p docs/dashboard
	for shot in $(SHOTS); do cp test-artifacts/dashboard/$$shot.png docs/dashboard/; done

## Validate compose.yaml offline (no Docker engine here).
compose-check:
	@command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	MODELDB_CLICKHOUSE_PASSWORD=validate-only docker-compose -f compose.yaml config -q && echo "compose.yaml is valid"

clean:
	rm -rf $(VENV) .modeldb test-artifacts
