# Loket: `make run` runs every process of the desk, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test dev lint format messages migrate backup restore key keys revoke-key rotate-key user users user-password user-disable user-enable mail clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# Debian's nginx (the gateway `make run` starts) and promtool (for the alert tests),
# unpacked into the virtual environment.
$(VENV)/.nginx: scripts/debian-tools.sh | $(BIN)/python
	scripts/debian-tools.sh $(VENV)/debian nginx
	touch $@

$(VENV)/.tools: scripts/debian-tools.sh | $(BIN)/python
	scripts/debian-tools.sh $(VENV)/debian nginx prometheus
	touch $@ $(VENV)/.nginx

# Debian's wrk, the load generator bench.pipeline uses by default.
$(VENV)/.wrk: scripts/debian-tools.sh | $(BIN)/python
	scripts/debian-tools.sh $(VENV)/debian wrk libluajit-5.1-2 libluajit-5.1-common
	touch $@

# Debian's Chromium and axe-core (npm) for the browser tests of the portal.
$(VENV)/.browser: scripts/browser-tools.sh | $(BIN)/python
	scripts/browser-tools.sh $(VENV)/browser
	touch $@

run: $(VENV)/.runtime $(VENV)/.nginx
	$(BIN)/python -m services.launcher

# Unit and integration tests on two processes (each test has its own namespace, databases
# and ports); then the whole-desk tests one at a time: some stop the shared broker. (Exit
# status 5 is "no test selected", when PYTEST_ARGS picks tests of one part only.)
test: $(VENV)/.dev $(VENV)/.tools $(VENV)/.browser lint
	$(BIN)/python -m pytest -n 2 tests/unit tests/integration $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The test packages, which the benchmarks in bench/ use too, and their load generator.
dev: $(VENV)/.dev $(VENV)/.wrk

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The portal's messages: extract them from the code into the template (.pot) and bring
# every language's catalogue (.po) up to date; a translator then fills in what is new.
# A new language: .venv/bin/pybabel init -i $(MESSAGES)/messages.pot -d $(MESSAGES) -l de
MESSAGES := services/portal/translations
messages: $(VENV)/.dev
	$(BIN)/pybabel extract -F services/portal/babel.cfg -k N_ --add-location=file \
		--sort-output --omit-header -o $(MESSAGES)/messages.pot .
	$(BIN)/pybabel update -i $(MESSAGES)/messages.pot -d $(MESSAGES) --width 100 --ignore-obsolete

migrate: $(VENV)/.runtime
	for s in intake queue notify feedback; do $(BIN)/python -m services $$s migrate || exit 1; done

# make backup [TO=folder]: every service's database (PostgreSQL: pg_dump's custom format;
# SQLite: a copy) and a manifest, by default under var/backups/. make restore FROM=folder
# loads one into empty databases and publishes its recent events again (docs/operations.md).
backup: $(VENV)/.runtime
	$(BIN)/python -m services.backup dump $(TO)

restore: $(VENV)/.runtime
	$(BIN)/python -m services.backup restore "$(FROM)"

# make key NAME=alice ROLE=agent [CHANNELS=web,phone]; make keys; make revoke-key NAME=alice;
# make rotate-key NAME=alice. Running services pick up the change without a restart.
key: $(VENV)/.runtime
	$(BIN)/python -m services.common.keys add --name "$(NAME)" --role "$(ROLE)" --channels "$(CHANNELS)"

keys: $(VENV)/.runtime
	$(BIN)/python -m services.common.keys list

revoke-key: $(VENV)/.runtime
	$(BIN)/python -m services.common.keys revoke --name "$(NAME)"

rotate-key: $(VENV)/.runtime
	$(BIN)/python -m services.common.keys rotate --name "$(NAME)"

# People who sign in to the console at /desk/: make user NAME=alice ROLE=agent (prints a
# first password once); make users; make user-password NAME=alice; make user-disable
# NAME=alice; make user-enable NAME=alice. Takes effect at once, without a restart.
user: $(VENV)/.runtime
	$(BIN)/python -m services.common.accounts add --name "$(NAME)" --role "$(ROLE)"

users: $(VENV)/.runtime
	$(BIN)/python -m services.common.accounts list

user-password: $(VENV)/.runtime
	$(BIN)/python -m services.common.accounts password --name "$(NAME)"

user-disable: $(VENV)/.runtime
	$(BIN)/python -m services.common.accounts disable --name "$(NAME)"

user-enable: $(VENV)/.runtime
	$(BIN)/python -m services.common.accounts enable --name "$(NAME)"

# The mail `make run` kept in var/mail/ when no LOKET_SMTP_URL names a server.
mail: $(VENV)/.runtime
	$(BIN)/python -m services.mailcatcher list

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
