# One place that defines the project's commands. README and .ci/run call these targets.
SHELL := /bin/bash
ENV ?= demo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii ends support for Node 20 on 2026-10-30 and prints a banner on every call; it still works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help install synth plan preview test lint deploy bootstrap clean pipeline-synth pipeline-deploy diff drift
.PHONY: synth-all review base-worktree lock deployer-actions verify snapshot import conformance

# The targets that read config/$(ENV).yaml refuse an empty ENV= before running anything: cdk synth took it for the
# demo, and the commands after it were an argument short. bootstrap PIPELINE=yes reads pipeline.yaml instead.
ENV_TARGETS := synth plan snapshot import preview deploy diff drift verify $(if $(PIPELINE),,bootstrap)
KNOWN_ENVS := $(sort $(patsubst config/%.yaml,%,$(filter-out config/_%,$(wildcard config/*.yaml))))
empty :=
comma := ,
KNOWN_ENVS_TEXT := $(subst $(empty) $(empty),$(comma) ,$(KNOWN_ENVS))
ifeq ($(strip $(ENV)),)
ifneq ($(filter $(ENV_TARGETS),$(MAKECMDGOALS)),)
$(error ENV is empty: name an environment, e.g. make $(firstword $(filter $(ENV_TARGETS),$(MAKECMDGOALS))) ENV=demo \
  (known: $(KNOWN_ENVS_TEXT)))
endif
endif

# `make conformance` needs a workgroup and its admin secret: an empty one is refused before anything runs (the
# command would otherwise get an empty name, or no value after --workgroup).
ifneq ($(filter conformance,$(MAKECMDGOALS)),)
ifeq ($(strip $(WORKGROUP)),)
$(error WORKGROUP is empty: name a scratch Redshift Serverless workgroup, e.g. make conformance WORKGROUP=scratch-wg \
  SECRET_ARN=<the namespace admin secret ARN>)
endif
ifeq ($(strip $(SECRET_ARN)),)
$(error SECRET_ARN is empty: pass the ARN of the namespace's admin secret, e.g. make conformance \
  WORKGROUP=$(strip $(WORKGROUP)) SECRET_ARN=arn:aws:secretsmanager:<region>:<account>:secret:<name>)
endif
endif

help:
	@echo "ENV=name                the environment, config/<name>.yaml (default: demo; known: $(KNOWN_ENVS_TEXT));"
	@echo "                        an empty ENV= is refused"
	@echo "make synth [ENV=name] [NAG=nist]"
	@echo "                        install pinned deps, synthesize ENV (default: demo) with cdk-nag into cdk.out/, print a summary;"
	@echo "                        NAG=nist also runs cdk-nag's NIST 800-53 R5 pack"
	@echo "make plan [ENV=name] [SNAPSHOT=file]"
	@echo "                        print the SQL the access model's first deploy runs (offline), or against a snapshot"
	@echo "make snapshot ENV=name OUT=file SECRET_ARN=arn|OUTPUTS=cdk-outputs.json"
	@echo "                        read-only dump of the live catalog (AWS credentials), for import and plan SNAPSHOT="
	@echo "make import ENV=name OUT=access/<name>.yaml SNAPSHOT=file|SECRET_ARN=arn|OUTPUTS=file [FORCE=yes]"
	@echo "                        write an access model from an existing warehouse; it plans to 0 DDL"
	@echo "make conformance WORKGROUP=name SECRET_ARN=arn [DATABASE=dev] [OUT=file] [FORCE=yes]"
	@echo "                        SCRATCH workgroups only: record what Redshift answers to every statement and catalog"
	@echo "                        query the project uses, then clean up (AWS credentials); contribute the JSON"
	@echo "make preview [ENV=name] [PERSONA=name] [FORMAT=text|markdown|json]"
	@echo "                        who sees what: each persona's rows of each table, on sample rows (offline)"
	@echo "make test               install pinned deps, run linters, type checks and the whole test suite"
	@echo "make lock               rewrite requirements.lock and requirements-client.lock (every package pinned, with"
	@echo "                        hashes) after editing requirements*.txt or pyproject.toml's dependencies"
	@echo "make bootstrap ENV=name [TRUST=account] [PIPELINE=yes]"
	@echo "                        cdk bootstrap ENV's account and region once, with the project's CloudFormation"
	@echo "                        execution policy instead of AdministratorAccess (needs AWS credentials)"
	@echo "make deployer-actions   rewrite redshift_idc/cdk/deployer_actions.json after adding a resource type"
	@echo "make deploy ENV=name [OUTPUTS=cdk-outputs.json]"
	@echo "                        cdk deploy every stack of ENV (needs AWS credentials); OUTPUTS writes their outputs"
	@echo "make diff ENV=name      cdk diff every stack of ENV against what is deployed (needs AWS credentials)"
	@echo "make drift ENV=name SECRET_ARN=arn|OUTPUTS=cdk-outputs.json"
	@echo "                        compare the live warehouse with the access model, change nothing (AWS credentials);"
	@echo "                        for 0/1/2 exit codes (in sync/drift/error) call: python -m redshift_idc drift"
	@echo "make verify ENV=name [OUTPUTS=cdk-outputs.json]"
	@echo "                        read-only checks of what CloudFormation cannot see, after a deploy (AWS credentials)"
	@echo "make pipeline-synth     synthesize the delivery pipeline of pipeline.yaml; pipeline-deploy deploys it"
	@echo "make synth-all          synthesize every environment (config/*.yaml, not _*) into cdk.out/<env>/: cdk-nag, cfn-lint"
	@echo "make review [BASE=dir HEAD=dir]"
	@echo "                        markdown summary of template and access-model changes, base vs head assemblies"
	@echo "                        (default cdk.out-base vs cdk.out), written to summary.md (SUMMARY=file)"
	@echo "make base-worktree BASE_REF=ref"
	@echo "                        check ref out into ../<repo>-base with its pinned deps, for synth-all SYNTH_SRC=..."

# The stamps make re-runs skip installs that are up to date: they are rebuilt only when the lock changes.
# requirements.lock pins every package, transitive ones included, with its hashes (pip refuses anything else),
# so every machine installs what CI installs. Edit requirements*.txt, then `make lock` rewrites it.
$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	touch $@

# pip-tools in a venv of its own, resolving against PyPI alone (not a machine's local wheel folders).
PIP_TOOLS := pip-tools==7.6.2
PIP_COMPILE := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
  --index-url https://pypi.org/simple
lock:
	test -x .venv-lock/bin/pip-compile || { $(PYTHON) -m venv .venv-lock && \
	  .venv-lock/bin/pip install --quiet --disable-pip-version-check '$(PIP_TOOLS)'; }
	PIP_CONFIG_FILE=/dev/null .venv-lock/bin/pip-compile $(PIP_COMPILE) --output-file requirements.lock \
	  requirements-dev.txt examples/streamlit_tip/requirements.txt
	PIP_CONFIG_FILE=/dev/null .venv-lock/bin/pip-compile $(PIP_COMPILE) --all-build-deps \
	  --constraint requirements.lock --output-file requirements-client.lock pyproject.toml

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# Into a fresh folder first, then moved: a failed synth keeps the previous cdk.out.
synth: install
	rm -rf cdk.out.new
	npx cdk synth --quiet --no-notices -o cdk.out.new -c env=$(ENV) $(if $(NAG),-c nag=$(NAG)) || { rm -rf cdk.out.new; exit 1; }
	rm -rf cdk.out && mv cdk.out.new cdk.out
	$(PY) -m redshift_idc summary --env $(ENV) cdk.out

plan: install
	$(PY) -m redshift_idc plan --env $(ENV) $(if $(SNAPSHOT),--snapshot '$(SNAPSHOT)') $(if $(STRICT),--strict)

# Optional arguments, each only when its variable is set: expanded here, since a backslash-continued recipe line
# is echoed as it stands (a stray `\` and an empty line when the arguments are not given).
LIVE_ARGS = $(if $(SECRET_ARN),--secret-arn '$(SECRET_ARN)') $(if $(OUTPUTS),--outputs '$(OUTPUTS)')

# Adopting an existing warehouse, read-only: make snapshot ENV= OUT= (SECRET_ARN=|OUTPUTS=), then
# make import ENV= OUT=access/<name>.yaml (SNAPSHOT=|SECRET_ARN=|OUTPUTS=) [FORCE=yes]
snapshot: $(VENV)/.installed
	$(PY) -m redshift_idc snapshot --env $(ENV) --out '$(OUT)' $(LIVE_ARGS) $(if $(FORCE),--force)
IMPORT_SOURCE = $(if $(SNAPSHOT),--from-snapshot '$(SNAPSHOT)') $(LIVE_ARGS)
import: $(VENV)/.installed
	$(PY) -m redshift_idc import --env $(ENV) --out '$(OUT)' $(IMPORT_SOURCE) $(if $(FORCE),--force)

# What a scratch workgroup answers (creates and removes conformance_* objects; refuses a non-scratch database
# unless FORCE=yes): one JSON file for tests/fixtures/conformance/.
CONFORMANCE_ARGS = $(strip $(if $(DATABASE),--database '$(DATABASE)') $(if $(OUT),--out '$(OUT)') $(if $(FORCE),--force))
conformance: $(VENV)/.installed
	$(PY) -m redshift_idc conformance --workgroup '$(WORKGROUP)' --secret-arn '$(SECRET_ARN)' $(CONFORMANCE_ARGS)

# Who sees what, offline: each persona's rows of each table on the model's sample rows (FORMAT=text|markdown|json).
FORMAT ?= text
PREVIEW_ARGS = $(if $(PERSONA),--persona '$(PERSONA)') $(if $(STRICT),--strict)
preview: $(VENV)/.installed
	$(PY) -m redshift_idc preview --env $(ENV) --format $(FORMAT) $(PREVIEW_ARGS)

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

# OUTPUTS=cdk-outputs.json also writes the stacks' outputs (the Streamlit example, drift and query read them).
deploy: install
	npx cdk deploy --all --no-notices -c env=$(ENV) --require-approval broadening $(if $(OUTPUTS),--outputs-file '$(OUTPUTS)')

# Once per account and region, with the environment's account and region (from config/<env>.yaml). CloudFormation
# then deploys with the project's execution policy (redshift_idc/cdk/deployer_actions.json, scoped to the stacks and
# region; `python -m redshift_idc deployer-policy --env <env>` prints it), not AdministratorAccess.
# PIPELINE=yes bootstraps the pipeline's tooling account instead; TRUST=<account> lets that account deploy here.
bootstrap: install
	@set -euo pipefail; \
	policies=$$($(PY) -m redshift_idc deployer-policy $(if $(PIPELINE),--pipeline,--env $(ENV)) --apply); \
	echo "CloudFormation execution policies: $$policies"; \
	npx cdk bootstrap --no-notices $(if $(PIPELINE),-c pipeline=true,-c env=$(ENV)) \
	  --cloudformation-execution-policies "$$policies" $(if $(TRUST),--trust $(TRUST))

# After adding a resource type to a stack: every environment and the pipeline synthesized, their resource types'
# handler permissions (cfn-lint's registry schemas) written to redshift_idc/cdk/deployer_actions.json.
deployer-actions: install
	$(MAKE) synth-all SYNTH_OUT=cdk.out.types CFN_LINT=no
	npx cdk synth --quiet --no-notices -o cdk.out.types/pipeline -c pipeline=true
	$(PY) -m redshift_idc deployer-policy --write-actions cdk.out.types
	rm -rf cdk.out.types

diff: install
	npx cdk diff --no-notices -c env=$(ENV)

# Needs no Node: only the venv. make turns any failing recipe into its own exit status 2.
drift: $(VENV)/.installed
	$(PY) -m redshift_idc drift --env $(ENV) $(LIVE_ARGS)

# Read-only post-deploy checks (IdC region, identity provider, assignments, issuers, OAuth app, sys:secadmin).
VERIFY_ARGS = $(if $(SECRET_ARN),--secret-arn '$(SECRET_ARN)') --outputs '$(or $(OUTPUTS),cdk-outputs.json)'
verify: $(VENV)/.installed
	$(PY) -m redshift_idc verify --env $(ENV) $(VERIFY_ARGS)

# Every environment (config/*.yaml except the _-prefixed bases), each into $(SYNTH_OUT)/<env>/ through the
# pinned CDK CLI with cdk-nag, then cfn-lint (errors) in the environment's own region. SYNTH_SRC synthesizes
# another checkout with these commands (the base branch's worktree, see base-worktree); CFN_LINT=no skips lint.
SYNTH_SRC ?= .
SYNTH_OUT ?= cdk.out
CFN_LINT ?= yes
synth-all: install
	rm -rf '$(SYNTH_OUT)'
	@set -euo pipefail; for file in '$(SYNTH_SRC)'/config/*.yaml; do \
	  env=$$(basename "$$file" .yaml); \
	  case "$$env" in _*) continue ;; esac; \
	  out='$(abspath $(SYNTH_OUT))'/"$$env"; \
	  echo "synth $$env -> $$out"; \
	  (cd '$(SYNTH_SRC)' && npx cdk synth --quiet --no-notices -o "$$out" -c env="$$env"); \
	  if [ '$(CFN_LINT)' = yes ]; then \
	    regions=$$(sed -n 's|.*"environment": "aws://[^/]*/\([a-z0-9-]*\)".*|\1|p' "$$out/manifest.json" | sort -u); \
	    $(VENV)/bin/cfn-lint --regions $$regions --ignore-checks W I --non-zero-exit-code error -- "$$out"/*.template.json; \
	  fi; \
	done

# The base branch checked out next to this checkout (a git worktree) with its own pinned deps, so that
# `make synth-all SYNTH_SRC=<BASE_DIR> SYNTH_OUT=cdk.out-base` can synthesize it for `make review`.
BASE_REF ?= origin/main
BASE_DIR ?= $(abspath ../$(notdir $(CURDIR))-base)
base-worktree:
	git worktree remove --force '$(BASE_DIR)' 2>/dev/null || true
	git worktree add --detach '$(BASE_DIR)' '$(BASE_REF)'
	$(MAKE) -C '$(BASE_DIR)' install

# The pull request summary: what HEAD's assemblies change against BASE's (offline), as markdown in
# $(SUMMARY); in GitHub Actions it is also appended to the job summary.
BASE ?= cdk.out-base
HEAD ?= cdk.out
SUMMARY ?= summary.md
review: $(VENV)/.installed
	$(PY) -m redshift_idc review --base '$(BASE)' --head '$(HEAD)' > '$(SUMMARY)'
	@cat '$(SUMMARY)'
	@if [ -n "$${GITHUB_STEP_SUMMARY:-}" ]; then cat '$(SUMMARY)' >> "$$GITHUB_STEP_SUMMARY"; fi

clean:
	rm -rf cdk.out cdk.out.new .venv-lock .pytest_cache .mypy_cache .ruff_cache
