# Two commands matter: `make local` (the main job, on an embedded local AWS) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
EMULATOR_VENV := .venv-emulator
TEMPLATES := build/templates
# The local stack's two ports (tunnel_infra/local_stack.py holds the same defaults, for hints):
# give other ones to every local target, e.g. make local EMULATOR_PORT=4600 GATEWAY_PORT=4601.
EMULATOR_PORT ?= 4566
GATEWAY_PORT ?= 4567
# What a hint must add to a make command so that it reaches the same local stack.
LOCAL_PORTS := $(if $(filter-out 4566,$(EMULATOR_PORT)),EMULATOR_PORT=$(EMULATOR_PORT) )$(if $(filter-out 4567,$(GATEWAY_PORT)),GATEWAY_PORT=$(GATEWAY_PORT))
# The embedded local AWS: boto3 and Sceptre honour AWS_ENDPOINT_URL; the keys are dummies. The
# local @connections API is the local gateway's (tunnel token revoke closes live tunnels there).
LOCAL_AWS := env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ENDPOINT_URL=http://127.0.0.1:$(EMULATOR_PORT) \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
  TUNNEL_CONNECTIONS_ENDPOINT=http://127.0.0.1:$(GATEWAY_PORT)/dev
# Every local target but the one that starts it: this checkout's emulator must answer on
# EMULATOR_PORT, else one line and nothing is done.
LOCAL_CHECK = @$(BIN)/python -m emulator.service check --port $(EMULATOR_PORT)
# Every config file parsed and every setting checked before Sceptre runs: one line per mistake,
# with its file and line, never a traceback.
CONFIG_CHECK := @$(BIN)/python -m tunnel_infra.config_check

.PHONY: help venv render snapshots lint format test bench clean emulator emulator-stop local local-down review deploy sync sync-local tunnel-local token-local logs logs-local review-local deploy-local browser deployer-policy cost drift drift-local outputs

help:
	@echo "make local       launch dev on the embedded local AWS and print its endpoints"
	@echo "make local-down  delete the local dev stacks"
	@echo "make emulator    start the local AWS emulator in the background (emulator-stop stops it)"
	@echo "make tunnel-local  the local API Gateway for the launched dev, on 127.0.0.1:GATEWAY_PORT"
	@echo "make token-local TOKEN_ARGS='--subdomain demo'  tunnel token on the local stack (list, revoke ID)"
	@echo "make logs ENV=dev LOGS_ARGS='--follow'  one line per function invocation (--function, --subdomain, --since)"
	@echo "make logs-local LOGS_ARGS='--since 5m'  the same, for the local stack"
	@echo "make review-local, make deploy-local  the reviewed deploy of the local dev"
	@echo "                 local ports: EMULATOR_PORT (4566), GATEWAY_PORT (4567)"
	@echo "make review ENV=prod  plan every stack's change set, gate destructive or broadening changes"
	@echo "make deploy ENV=prod  execute exactly the reviewed change sets (dev: sceptre launch)"
	@echo "make drift ENV=prod  drift of every stack; exits 1 on drift that make sync does not explain"
	@echo "make drift-local  the same for the dev that make local launched"
	@echo "make sync ENV=dev  changed function code to Lambda in seconds (SYNC_ARGS=--watch)"
	@echo "make sync-local  the same for the dev that make local launched (SYNC_ARGS=--watch)"
	@echo "make deployer-policy ENV=prod  the IAM policy launch, review, deploy, sync, drift, tunnel token and tunnel logs need (POLICY_ARGS='--command sync')"
	@echo "make outputs ENV=prod  a launched environment's endpoints, dashboard, and what an existing function needs"
	@echo "make cost ENV=prod [REQUESTS=1000000]  a month's estimate, offline (COST_ARGS='--response-kb 32')"
	@echo "make test        every test and check (creates the virtualenvs it needs)"
	@echo "make render      render every template of every environment into $(TEMPLATES)/"
	@echo "make lint        cfn-lint and checkov on the rendered templates (after make render)"
	@echo "make snapshots   refresh the reviewed template snapshots in tests/snapshots/"
	@echo "make format      ruff format and fix"
	@echo "make bench       render, lint, packaging and launch timings (medians, one run)"
	@echo "make apps        the real apps tests/apps runs behind the tunnel (Django, Vite)"
	@echo "make shells     the shells Copy as curl is tested in (bash, dash, zsh, fish) and curl"

# Each virtualenv is rebuilt only when its pins change.
$(BIN)/.installed: requirements.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(CHECKOV_VENV)/bin/.installed: checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r checkov-requirements.txt
	touch $@

$(EMULATOR_VENV)/bin/.installed: emulator/requirements.txt
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/pip install --quiet --disable-pip-version-check -r emulator/requirements.txt
	touch $@

venv: $(BIN)/.installed

emulator: $(BIN)/.installed $(EMULATOR_VENV)/bin/.installed
	@$(BIN)/python -m emulator.service start --port $(EMULATOR_PORT)

emulator-stop: $(BIN)/.installed
	@$(BIN)/python -m emulator.service stop

# Ends with what works on this machine: the local gateway's URLs and the next commands.
local: emulator
	$(CONFIG_CHECK) dev
	$(LOCAL_AWS) $(BIN)/sceptre launch -y dev
	@echo "dev is launched on the local AWS (http://127.0.0.1:$(EMULATOR_PORT)). Its URLs here, served by make tunnel-local:"
	@$(LOCAL_AWS) $(BIN)/python -m local_gateway.urls --port $(GATEWAY_PORT) --environment dev
	@echo "Its dashboard (kept by the local AWS: aws cloudwatch get-dashboard; on AWS, at):"
	@$(LOCAL_AWS) $(BIN)/python -m tunnel_infra.outputs dev --only DashboardUrl
	@echo "Next, each in its own terminal:"
	@echo "  make tunnel-local $(LOCAL_PORTS)"
	@echo "  python3 -m http.server 8080"
	@echo "  export TUNNEL_TOKEN=\$$(make -s token-local $(LOCAL_PORTS) TOKEN_ARGS='--subdomain demo')"
	@echo "  .venv/bin/tunnel http 8080 --url ws://127.0.0.1:$(GATEWAY_PORT)/dev"
	@echo "  make logs-local $(LOCAL_PORTS) LOGS_ARGS=--follow   (one line per invocation, every function)"

local-down: $(BIN)/.installed
	$(LOCAL_CHECK)
	$(LOCAL_AWS) $(BIN)/sceptre delete -y dev
	@echo "dev's local stacks are deleted, and with them its signing secret and API ids: every token"
	@echo "issued for it and every tunnel URL are gone too. make local launches a new dev (new ids, new"
	@echo "URLs); a running make tunnel-local follows it; issue new tokens with make token-local."

render: $(BIN)/.installed
	$(CONFIG_CHECK)
	$(BIN)/python -m tunnel_infra.render $(TEMPLATES)

snapshots: $(BIN)/.installed
	$(CONFIG_CHECK)
	$(BIN)/python -m tunnel_infra.render tests/snapshots

# Lints what `make render` wrote; templates unchanged since they passed are skipped.
lint: $(BIN)/.installed $(CHECKOV_VENV)/bin/.installed
	$(BIN)/python -m tunnel_infra.lint $(TEMPLATES)

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Headless Chromium and its driver from Debian's packages, for tests/browser (selenium is told
# these paths, so selenium-manager never downloads a browser). CI runs as root on fresh Debian.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make browser: $(CHROMIUM) or $(CHROMEDRIVER) is missing; install Debian's chromium and chromium-driver (as root: apt-get install chromium chromium-driver)" >&2; \
	    exit 1; \
	  fi; \
	  if ! apt-cache show chromium chromium-driver >/dev/null 2>&1; then \
	    apt-get update -qq; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	fi

# Real apps that tests/apps runs behind the tunnel (issue 16), set up as their own docs say:
# Django in its own virtualenv (tests/apps/requirements.txt), and a stock Vite app scaffolded by
# create-vite into $(VITE_APP), its packages from the committed lock (npm ci). Node and npm are
# Debian's (nodejs, npm; as root when missing): Vite 6 runs on bookworm's Node 18 and on newer.
# Each is rebuilt only when its pins change.
APPS_VENV := .venv-apps
CREATE_VITE := create-vite@6.5.0
VITE_APP := build/apps/vite-app
.PHONY: apps node
apps: $(APPS_VENV)/bin/.installed $(VITE_APP)/.installed-$(CREATE_VITE)

$(APPS_VENV)/bin/.installed: tests/apps/requirements.txt
	$(PYTHON) -m venv $(APPS_VENV)
	$(APPS_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/apps/requirements.txt
	touch $@

node:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make node: node or npm is missing; install Debian's nodejs and npm (as root: apt-get install nodejs npm)" >&2; \
	    exit 1; \
	  fi; \
	  if ! apt-cache show nodejs npm >/dev/null 2>&1; then \
	    apt-get update -qq; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi

$(VITE_APP)/.installed-$(CREATE_VITE): tests/apps/vite/package-lock.json | node
	rm -rf $(VITE_APP)
	mkdir -p $(dir $(VITE_APP))
	cd $(dir $(VITE_APP)) && npm create --yes $(CREATE_VITE:create-%=%) $(notdir $(VITE_APP)) -- --template vanilla >/dev/null
	cp tests/apps/vite/package-lock.json $(VITE_APP)/
	cd $(VITE_APP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The shells "Copy as curl" must be safe to paste into (tests/cli/test_copy_as_curl.py runs the
# inspector's command in each), and curl itself: Debian's, as root when missing.
SHELLS := bash dash zsh fish curl
.PHONY: shells
shells:
	@if ! (for c in $(SHELLS); do command -v $$c >/dev/null || exit 1; done); then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make shells: one of $(SHELLS) is missing; install Debian's (as root: apt-get install $(SHELLS))" >&2; \
	    exit 1; \
	  fi; \
	  if ! apt-cache show $(SHELLS) >/dev/null 2>&1; then \
	    apt-get update -qq; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SHELLS) >/dev/null; \
	fi

test: apps shells
bench: browser

test: $(BIN)/.installed $(EMULATOR_VENV)/bin/.installed browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory render lint
	$(BIN)/pytest -q

bench: $(BIN)/.installed $(CHECKOV_VENV)/bin/.installed $(EMULATOR_VENV)/bin/.installed
	$(BIN)/python benchmarks/launch.py
	$(BIN)/python benchmarks/tunnel.py
	$(BIN)/python benchmarks/inspector.py
	$(BIN)/python benchmarks/apps.py
	$(BIN)/python benchmarks/edge.py

clean:
	rm -rf build .venv .venv-checkov .venv-emulator
	rm -rf $(APPS_VENV)

# Change-set review before prod (README "Reviewing changes before prod"). Both talk to AWS as
# configured, or to the emulator when AWS_ENDPOINT_URL is set. Approvals go in REVIEW_ARGS:
#   make review ENV=prod REVIEW_ARGS="--allow-replace ConnectionsTable --approve-broadening"
ENV ?= dev
review: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	$(BIN)/python -m review plan $(ENV) $(REVIEW_ARGS)

# Executes exactly the change sets recorded in build/review/$(ENV).json. dev skips the review
# and launches (python -m review deploy dev runs a reviewed deploy of dev).
deploy: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	@if [ "$(ENV)" = dev ]; then \
	  echo "dev: sceptre launch -y dev (no review)"; \
	  $(BIN)/sceptre launch -y dev; \
	else \
	  $(BIN)/python -m review deploy $(ENV) $(DEPLOY_ARGS); \
	fi

# Drift detection on every stack of ENV (and the functions' code, which CloudFormation does not
# compare): exits 1 on any drift but what make sync explains, 2 when detection cannot run.
drift: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	$(BIN)/python -m review.drift $(ENV)

drift-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	$(CONFIG_CHECK) dev
	$(LOCAL_AWS) $(BIN)/python -m review.drift dev

# Changed function code straight to Lambda (UpdateFunctionCode), no stack update; the next launch
# reconciles the functions stack. Refuses protected environments. Like review and deploy it talks
# to AWS as configured, or to the emulator when AWS_ENDPOINT_URL is set (with LOCAL_AWS's dummy
# keys). SYNC_ARGS=--watch re-syncs on every change under functions/.
sync: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	$(BIN)/python -m tunnel_infra.code_sync $(ENV) $(SYNC_ARGS)

# The same, for the dev that `make local` launched; a running `make tunnel-local` follows it.
sync-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	$(CONFIG_CHECK) dev
	$(LOCAL_AWS) $(BIN)/python -m tunnel_infra.code_sync dev $(SYNC_ARGS)

# The IAM policy document a deployer's role needs for ENV, derived offline from the rendered
# templates and the tools' declared calls (tunnel_infra/deployer_policy.py); JSON on stdout.
deployer-policy: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	@$(BIN)/python -m tunnel_infra.deployer_policy $(ENV) $(POLICY_ARGS)

# A month's cost from the rendered templates, the settings and tunnel_infra/data's price table:
# no credentials, no network.
REQUESTS ?= 1000000
outputs: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	@$(BIN)/python -m tunnel_infra.outputs $(ENV)

cost: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	@$(BIN)/python -m tunnel_infra.cost $(ENV) --requests $(REQUESTS) $(COST_ARGS)

# The reviewed deploy (make review, make deploy) of the dev that `make local` launched.
review-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	$(CONFIG_CHECK) dev
	$(LOCAL_AWS) $(BIN)/python -m review plan dev $(REVIEW_ARGS)

deploy-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	$(CONFIG_CHECK) dev
	$(LOCAL_AWS) $(BIN)/python -m review deploy dev $(DEPLOY_ARGS)

# tunnel token on the local dev: TOKEN_ARGS="--subdomain demo" prints a token, "list" lists them,
# "revoke ID" revokes one and closes its live tunnel at the local gateway's @connections.
token-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	@$(LOCAL_AWS) $(BIN)/tunnel token $(TOKEN_ARGS)

# tunnel logs: one line per function invocation of ENV, from the functions' log groups, e.g.
#   make logs ENV=prod LOGS_ARGS="--since 1h --function forwarding --subdomain demo --follow"
logs: $(BIN)/.installed
	$(CONFIG_CHECK) $(ENV)
	@$(BIN)/tunnel logs --environment $(ENV) $(LOGS_ARGS)

# The same for the dev that `make local` launched (the local gateway writes the functions' lines
# to the emulator's log groups).
logs-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	@$(LOCAL_AWS) $(BIN)/tunnel logs --environment dev $(LOGS_ARGS)

# The local API Gateway (WebSocket API, HTTP API, @connections) for the dev that `make local`
# launched: ws://127.0.0.1:$(GATEWAY_PORT)/dev and http://<subdomain>.localhost:$(GATEWAY_PORT).
tunnel-local: $(BIN)/.installed
	$(LOCAL_CHECK)
	$(LOCAL_AWS) $(BIN)/python -m local_gateway --port $(GATEWAY_PORT) --environment dev
