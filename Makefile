# Two commands: `make demo` (zero setup: SQLite, filesystem broker) and `make test` (PostgreSQL + Redis).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# Tests use the local services unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: demo test install browser lint messages bench clean schema

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(BIN)/python manage.py migrate --noinput
	bash scripts/demo.sh

# Debian's Chromium for the Playwright tests (no browser download), plus a Japanese font so
# screenshots are readable. Installed only when missing; needs root (CI is root).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi ipagothic; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic; \
		else echo "install chromium and fonts-ipafont-gothic (apt) to run the browser tests"; fi; \
	fi

test: install browser
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

# The OpenAPI schema checked into the repo (tests/api/test_schema.py fails when it drifts from the code).
# Generated for PostgreSQL (integer ranges follow the database backend); no connection is made.
schema: install
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" $(BIN)/python manage.py spectacular --validate --fail-on-warn --lang en --file api/openapi.yaml

messages: install
	$(BIN)/python manage.py makemessages -l ja --ignore=.venv --ignore=tests --ignore="gateways/sandbox/*"
	$(BIN)/python manage.py compilemessages -l ja --ignore=.venv

clean:
	rm -rf var

bench: install
	$(BIN)/python bench/sync_batch.py $(BENCH_ARGS)
