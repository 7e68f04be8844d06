# The chat's commands. `make run` brings everything up; `make test` runs every test.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.stamp

.PHONY: run test sysdeps venv keys db db-stop lint typecheck unit bench bench-quick screenshots clean clean-all

NODES ?= 1

run: sysdeps venv keys db
	NODES=$(NODES) scripts/run.sh

test: sysdeps venv
	.venv/bin/ruff check .
	.venv/bin/mypy --strict common server client bench config.py
	.venv/bin/python -m pytest

sysdeps:
	@scripts/install-system-deps.sh

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV_STAMP)

keys: venv
	@test -f keys/server_private.pem || $(PY) -m server keygen

db: venv
	scripts/db.sh start
	$(PY) -m server init-db --demo

db-stop:
	scripts/db.sh stop

lint: venv
	.venv/bin/ruff check .

typecheck: venv
	.venv/bin/mypy --strict common server client bench config.py

unit: venv
	.venv/bin/python -m pytest tests/unit

bench: sysdeps venv
	$(PY) -m bench all

bench-quick: sysdeps venv
	$(PY) -m bench quick

screenshots: sysdeps venv
	$(PY) scripts/screenshots.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-all: clean db-stop
	rm -rf .venv .run
