# KMP — the two commands: `make run` (demo cooperative on SQLite) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi
STAMP := $(VENV)/.installed

.PHONY: run test install translations lint bench clean demo-db browser lock

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "KMP needs Python 3.11 or newer"'
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d kmp/translations

messages: $(STAMP)  ## re-extract messages and update the catalogs (for translators)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o kmp/translations/messages.pot .
	$(BIN)/pybabel update -N -i kmp/translations/messages.pot -d kmp/translations

demo-db: translations
	$(BIN)/flask --app wsgi kmp init
	$(BIN)/flask --app wsgi kmp seed-demo

run: demo-db
	@echo "KMP demo cooperative: http://127.0.0.1:$(PORT)/ (the scheduler runs inside the server)"
	KMP_DEV_SCHEDULER=1 $(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

browser:
	@bash .ci/ensure-browser

test: translations lint browser
	@echo "=== The whole suite on SQLite (with the browser tests) ==="
	env -u KMP_TEST_DATABASE_URL $(BIN)/python -m pytest -n 2 --dist loadgroup
	@if [ -n "$$KMP_TEST_DATABASE_URL" ]; then \
		echo "=== The suite again on PostgreSQL ($$KMP_TEST_DATABASE_URL) ==="; \
		KMP_TEST_BROWSER=0 $(BIN)/python -m pytest -n 2 --dist loadgroup; \
	else echo "KMP_TEST_DATABASE_URL is not set: the PostgreSQL run was skipped."; fi

bench: translations  ## SQLite; also PostgreSQL when KMP_BENCH_DATABASE_URL is set; BENCH_ARGS=--large
	@$(BIN)/python -c 'import importlib.util as u, sys; sys.exit(u.find_spec("locust") is None)' || $(BIN)/pip install --quiet -c requirements.lock -e '.[dev,bench]'
	@bash bench/ensure-wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lock:  ## refresh requirements.lock from a clean resolve
	rm -rf /tmp/kmp-lock && $(PYTHON) -m venv /tmp/kmp-lock
	/tmp/kmp-lock/bin/pip install --quiet -e '.[dev,bench]'
	/tmp/kmp-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
