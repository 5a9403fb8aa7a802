# Two commands: `make demo` (zero setup: SQLite, filesystem broker) and `make test` (PostgreSQL + Redis).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# Tests use the local services unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: demo test install lint messages bench clean

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

test: install
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

messages: install
	$(BIN)/python manage.py makemessages -l ja --ignore=.venv --ignore=tests --ignore="gateways/sandbox/*"
	$(BIN)/python manage.py compilemessages -l ja --ignore=.venv

clean:
	rm -rf var
