# Relance: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The embedded defaults: development mode unless the environment says otherwise
# (`DEBUG=0 make run` runs with production settings, which then need .env).
export DEBUG ?= 1
export PORT

.PHONY: run test test-fast lint install lock clean messages bench audit

# Each step says what it does (the locked install takes a minute or two the first time);
# once installed, `make run` says nothing about it.
$(VENV)/.installed: requirements/dev.txt
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11))" 2>/dev/null || { echo "make: Relance needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	@echo "Creating the virtual environment in $(VENV)…"
	@$(PYTHON) -m venv $(VENV)
	@# Python 3.11's bundled pip (23.2) refuses the lock's extras in hash mode (pip-audit's
	@# CacheControl[filecache]); a pinned newer pip installs the same locked files.
	@$(PY) -m pip install --quiet --disable-pip-version-check pip==25.3
	@$(PY) retargeting/install.py requirements/dev.txt
	@touch $@

# settings.py reads .env (ENV_FILE names another file, an empty ENV_FILE none). `make install`
# writes one with the embedded defaults when there is none, so that `.venv/bin/python manage.py
# COMMAND` works as `make run` does. Git, the Docker image and docker compose never use it:
# production's .env is a copy of .env.example (DEBUG=0), and compose refuses this one
# (no POSTGRES_PASSWORD).
ENV_FILE ?= .env
DEV_ENV := $(filter .env,$(ENV_FILE))

.env:
	@printf '%s\n' \
	  "# Written by make install: the embedded defaults, for development on this machine." \
	  "# Not for production: there, copy .env.example to .env and fill it in (docs/deployment.md)." \
	  "DEBUG=1" > $@
	@echo "Wrote .env (DEBUG=1: the development defaults, which manage.py reads too)."

install: $(VENV)/.installed $(DEV_ENV)

run: install
	@# A busy port (a second `make run`) fails here, in one line naming PORT=, before anything starts.
	@$(PY) retargeting/ports.py 127.0.0.1 $(PORT)
	@echo "Preparing the database and the demo…"
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py demo
	@$(PY) manage.py runall --port $(PORT)

# The suite runs on every core (TEST_WORKERS=0 runs it in one process); a file's tests stay
# on one worker, so the servers and browsers a module starts are started once. The tests
# that stop a server the others share (marked exclusive) run alone afterwards; pytest's
# exit 5 (no test selected, e.g. with a narrowing PYTEST_ARGS) is not a failure there.
TEST_WORKERS ?= auto
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(XDIST) -m "not exclusive" $(PYTEST_ARGS)
	$(PY) -m pytest -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The edit-test loop: everything but the browser tests and the tests that start processes
# (workers, servers, commands run as their own process); `make test` still runs them all.
test-fast: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(XDIST) -m "not slow and not browser" $(PYTEST_ARGS)

# Benchmarks on 127.0.0.1 (needs wrk); on PostgreSQL and Redis when their URLs are set.
bench: install
	$(PY) bench/run.py

# Known vulnerabilities in the locked dependencies (pip-audit; needs PyPI's advisory data).
audit: install
	$(PY) .ci/audit.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy retargeting optin campaigns

# Regenerate the locked requirements after changing pyproject.toml.
lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --universal --generate-hashes -q -o requirements/prod.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal --generate-hashes -q -o requirements/dev.txt

# Refresh the translation catalogues after changing texts (needs GNU gettext's xgettext),
# then fill the French one from locale/translate_fr.py and compile both.
messages: install
	$(PY) manage.py makemessages -l fr --ignore=.venv --ignore=tests --ignore=var --ignore=locale -e html,py,txt
	$(PY) locale/compile.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
