# The two commands of the README: `make run` and `make test`. Everything they need is
# installed here into .venv, from the package registries only.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The deployed stages whose CloudFormation package `make test` builds and lints (docs/deploy.md).
STAGES ?= dev prod
PACKAGE_DIR ?= build/package
TF_DIR := infra/terraform
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-photos.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test lint typecheck unit bench clean package infra terraform-check cost browser web screenshots bench-pages stack stack-spike stack-faults

$(STAMP): requirements.txt requirements-photos.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

## Start the service on embedded defaults (no account anywhere) at http://localhost:$(PORT), and its
## real-time status WebSocket API at ws://localhost:$${AVATARFLOW_WS_PORT:-8001} (started at once)
run: install
	AVATARFLOW_STAGE=local $(PY) -m chalicelib.cli prepare
	AVATARFLOW_WARM_START=1 \
	AVATARFLOW_FILES_BASE_URL=$${AVATARFLOW_FILES_BASE_URL:-http://localhost:$(PORT)/v1/files} \
		$(VENV)/bin/chalice local --stage local --host 127.0.0.1 --port $(PORT) --no-autoreload

## The production topology on 127.0.0.1 (docs/operations.md): $(STACK_API) API processes behind one port,
## $(STACK_WORKERS) lane workers per lane, Upstash REST + redis-server, SQS + S3 (moto), fal + Replicate
## stand-ins, the schedules. Prints where each part listens; Ctrl-C stops every process.
STACK_API ?= 3
STACK_WORKERS ?= 2
STACK_ARGS ?=
stack: install
	$(PY) -m stack --api $(STACK_API) --workers-per-lane $(STACK_WORKERS) --first 5 $(STACK_ARGS)

## The spike on the stack with a lane worker and an API process killed (~10 min); records docs/benchmarks.md
stack-spike: install
	$(PY) -m bench.stack_spike --write

## Faults on the stack, measured (a few minutes): store stopped / killed, queue service stopped,
## a silent provider; records docs/benchmarks.md
stack-faults: install
	$(PY) -m bench.stack_spike --fault all --write

## Lint, type-check, check the infrastructure and run the whole test suite
test: install lint typecheck infra browser web
	$(VENV)/bin/pytest

## ruff, and the layer rules of docs/architecture.md (import-linter's contracts in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

## Package every deployed stage and lint it; check the Terraform where terraform is installed
infra: package terraform-check

## `chalice package` each stage merged with infra/cloudformation/resources.yml into
## $(PACKAGE_DIR)/<stage>/ (sam.yaml + deployment.zip), add compiled bytecode to the zip (Lambda
## cannot cache it: infra/precompile.py), refuse native libraries Lambda's glibc cannot load
## (infra/check_glibc.py), then cfn-lint the merged template.
## Offline but for PyPI: Chalice fetches the Lambda wheels of requirements.txt. Its dependency zip
## is cached in .chalice/deployments per version of requirements.txt + app code; older ones are removed.
package: install
	@for stage in $(STAGES); do \
		rm -rf $(PACKAGE_DIR)/$$stage && \
		echo "chalice package --stage $$stage" && \
		AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $$stage \
			--merge-template infra/cloudformation/resources.yml --pkg-format cloudformation \
			$(PACKAGE_DIR)/$$stage && \
		$(PY) infra/precompile.py $(PACKAGE_DIR)/$$stage/deployment.zip && \
		$(PY) infra/check_glibc.py $(PACKAGE_DIR)/$$stage/deployment.zip && \
		$(VENV)/bin/cfn-lint $(PACKAGE_DIR)/$$stage/sam.yaml || exit 1; \
	done
	@ls -t .chalice/deployments/*.zip 2>/dev/null | tail -n +2 | xargs -r rm -f

## terraform fmt -check and validate, only where terraform is installed; validate also needs the
## providers, so it is skipped (one line) where the Terraform registry cannot be reached.
terraform-check:
	@if ! command -v terraform >/dev/null 2>&1; then \
		echo "terraform not installed: skipping terraform fmt/validate"; \
	else \
		terraform -chdir=$(TF_DIR) fmt -check -diff -recursive && \
		mkdir -p build && \
		if TF_DATA_DIR=$(CURDIR)/build/terraform terraform -chdir=$(TF_DIR) init -backend=false -input=false \
				>build/terraform-init.log 2>&1; then \
			TF_DATA_DIR=$(CURDIR)/build/terraform terraform -chdir=$(TF_DIR) validate; \
		else \
			echo "terraform fmt ok; validate skipped: providers not installable here (build/terraform-init.log)"; \
		fi; \
	fi

unit: install
	$(VENV)/bin/pytest tests/unit tests/contract

## Run every benchmark and record the results in docs/benchmarks.md (a few minutes)
bench: install
	$(PY) -m bench.images --write
	$(PY) -m bench.gallery --write
	$(PY) -m bench.roundtrips --write --baseline bbd5954
	$(PY) -m bench.spike --write
	$(PY) -m bench.similar --write
	$(PY) -m bench.durability --write
	$(PY) -m bench.followers --write
	$(PY) -m bench.coldstart --write --baseline bbd5954
	$(PY) -m bench.realtime --write
	$(PY) -m bench.burst --write

## The cost model (offline): docs/cost.md and its chart docs/cost.svg, from the unit prices in
## costmodel/prices.py and the counts recorded in docs/benchmarks.md (an offline tool: not in the Lambda package)
cost: install
	$(PY) -m costmodel --write docs/cost.md

# --- The browser experience (web/): its test tools and screenshots -------------------------------
## Debian's Chromium for the browser tests (tests/browser; Playwright's own browser download cannot
## work offline and is never called). Installed when missing if we are root; a clear message if not.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The browser tests need Debian's Chromium at $(CHROMIUM): run 'sudo apt-get install -y chromium' (or set CHROMIUM=/path/to/chromium)." >&2; \
		exit 1; \
	fi

## axe-core (the accessibility scan of the browser tests) into ./node_modules, from package-lock.json
web: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## PNGs of the page's and the dashboard's main states into docs/screenshots/
screenshots: install browser
	$(PY) -m tests.browser.screenshots

## The pages' budgets (picker size, first gallery images visible) into docs/benchmarks.md
bench-pages: install browser
	$(PY) -m bench.pages --write
# --- end of the browser block -------------------------------------------------------------------

clean:
	rm -rf $(VENV) .avatarflow .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build .chalice/deployments node_modules
