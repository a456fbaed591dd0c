# One place that defines the project's commands. README and .ci/run call these targets.
SHELL := /bin/bash
ENV ?= demo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii ends support for Node 20 on 2026-10-30 and prints a banner on every call; it still works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help install synth plan test lint deploy clean pipeline-synth pipeline-deploy diff drift

help:
	@echo "make synth [ENV=name]   install pinned deps, synthesize ENV (default: demo) with cdk-nag into cdk.out/, print a summary"
	@echo "make plan [ENV=name]    print the SQL the access model's first deploy runs (offline)"
	@echo "make test               install pinned deps, run linters, type checks and the whole test suite"
	@echo "make deploy ENV=name    cdk deploy every stack of ENV (needs AWS credentials)"
	@echo "make diff ENV=name      cdk diff every stack of ENV against what is deployed (needs AWS credentials)"
	@echo "make drift ENV=name SECRET_ARN=arn|OUTPUTS=cdk-outputs.json"
	@echo "                        compare the live warehouse with the access model, change nothing (AWS credentials);"
	@echo "                        for 0/1/2 exit codes (in sync/drift/error) call: python -m redshift_idc drift"
	@echo "make pipeline-synth     synthesize the delivery pipeline of pipeline.yaml; pipeline-deploy deploys it"

# The stamps make re-runs skip installs that are up to date: they are rebuilt only when a pin changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt examples/streamlit_tip/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r examples/streamlit_tip/requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

synth: install
	rm -rf cdk.out
	npx cdk synth --quiet --no-notices -c env=$(ENV)
	$(PY) -m redshift_idc summary --env $(ENV) cdk.out

plan: install
	$(PY) -m redshift_idc plan --env $(ENV)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install lint
	$(VENV)/bin/pytest -n 2

pipeline-synth: install
	rm -rf cdk.out
	npx cdk synth --quiet --no-notices -c pipeline=true

pipeline-deploy: install
	npx cdk deploy RedshiftIdcPipeline --no-notices -c pipeline=true --require-approval broadening

deploy: install
	npx cdk deploy --all --no-notices -c env=$(ENV) --require-approval broadening

diff: install
	npx cdk diff --no-notices -c env=$(ENV)

# Needs no Node: only the venv. make turns any failing recipe into its own exit status 2.
drift: $(VENV)/.installed
	$(PY) -m redshift_idc drift --env $(ENV) $(if $(SECRET_ARN),--secret-arn '$(SECRET_ARN)') $(if $(OUTPUTS),--outputs '$(OUTPUTS)')

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
