# The two commands of the README: `make run` and `make test`. Everything they need is
# installed here into .venv, from the package registries only.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

## Start the service on embedded defaults (no account anywhere) at http://localhost:$(PORT)
run: install
	AVATARFLOW_STAGE=local $(PY) -m chalicelib.cli prepare
	AVATARFLOW_FILES_BASE_URL=$${AVATARFLOW_FILES_BASE_URL:-http://localhost:$(PORT)/v1/files} \
		$(VENV)/bin/chalice local --stage local --host 127.0.0.1 --port $(PORT) --no-autoreload

## Lint, type-check and run the whole test suite
test: install lint typecheck
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest tests/unit tests/contract

bench: install
	$(PY) -m bench.images --write

clean:
	rm -rf $(VENV) .avatarflow .pytest_cache .mypy_cache .ruff_cache
