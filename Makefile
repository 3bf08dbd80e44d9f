# The two set-up commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
CHROMIUM ?= /usr/bin/chromium
HAPROXY ?= /usr/sbin/haproxy

.PHONY: run test install install-test install-checkov browser postgres train clean messages audit image-test lint-deploy deploy bench bench-challenger bench-admin bench-forecast bench-retention bench-limits bench-profile bench-cluster bench-alternatives haproxy

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# checkov in a virtualenv of its own: its dependency pins would change .venv's packages.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	[ -x $(CHECKOV_VENV)/bin/python ] || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@
install-checkov: $(CHECKOV_VENV)/.installed

# Local mode, as django-environ reads a boolean: true, on, ok, y, yes or 1 in any case.
IS_LOCAL_MODE = [[ "$${DJANGO_LOCAL_MODE,,}" =~ ^(true|on|ok|y|yes|1)$$ ]]

## run: install, migrate and serve with gunicorn on http://127.0.0.1:$(PORT), in local mode (DJANGO_LOCAL_MODE=true
## unless set): SQLite unless DATABASE_URL is set, cookies over plain http, and without DJANGO_SECRET_KEY a key
## made once into .local-secret-key (here, not by the settings) so that logins survive a restart
run: install
	export DJANGO_LOCAL_MODE=$${DJANGO_LOCAL_MODE:-true}; \
	if $(IS_LOCAL_MODE) && [ -z "$${DJANGO_SECRET_KEY:-}" ]; then \
	  [ -s .local-secret-key ] || (umask 077; $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > .local-secret-key); \
	  export DJANGO_SECRET_KEY="$$(cat .local-secret-key)"; \
	fi; \
	$(PY) manage.py migrate --noinput \
	&& $(PY) manage.py activate_model --if-none-active \
	&& $(PY) manage.py collectstatic --noinput --verbosity 0 \
	&& PORT=$(PORT) GUNICORN_BIND=$${GUNICORN_BIND:-127.0.0.1:$(PORT)} \
	  exec $(VENV)/bin/gunicorn -c python:insurance_site.gunicorn insurance_site.wsgi:application

# $(call debian_package,PATH,PACKAGE,WHAT NEEDS IT): install Debian's PACKAGE (as root, with apt-get) when PATH is
# missing; otherwise say what needs it and how to install it, and fail.
define debian_package
@if [ ! -x $(1) ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "installing $(2) from Debian's packages"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
  else \
    echo "$(3) needs $(1): install Debian's '$(2)' package (sudo apt-get install $(2))" >&2; exit 1; \
  fi; \
fi
endef

## browser: Debian's Chromium for the browser test (Playwright cannot download browsers here)
browser:
	$(call debian_package,$(CHROMIUM),chromium,The browser test)

## haproxy: Debian's haproxy, the load balancer of make bench-cluster
haproxy:
	$(call debian_package,$(HAPROXY),haproxy,make bench-cluster)

## audit-deps: the audit's npm packages (axe-core, lighthouse@12.2.3) from package-lock.json into node_modules;
## installs Debian's nodejs and npm (as root, with apt-get) when npm is missing
audit-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing nodejs and npm from Debian's packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "The audit needs Node.js and npm: install Debian's 'nodejs' and 'npm' packages" >&2; exit 1; \
	  fi; \
	fi
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

## audit: axe-core and Lighthouse on the public pages in both languages (tests/browser/test_audit.py; make test runs it too)
audit: install-test browser postgres audit-deps
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-insecure-key-for-the-test-suite-only} \
	PLAYWRIGHT_CHROMIUM=$(CHROMIUM) \
	  $(PY) -m pytest -m audit tests/browser/test_audit.py

## postgres: make sure PostgreSQL answers at DATABASE_URL (starts the local cluster where it can)
postgres: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} PYTHON=$(PY) .ci/ensure-postgres

## test: the whole suite on PostgreSQL at DATABASE_URL (default $(TEST_DATABASE_URL)), cfn-lint and checkov on
## the deploy template, then the container image test where a container builder exists (IMAGE_TEST=no skips it)
test: install-test install-checkov browser haproxy postgres audit-deps
	$(VENV)/bin/mkdocs build --strict --site-dir test-artifacts/site
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-insecure-key-for-the-test-suite-only} \
	PLAYWRIGHT_CHROMIUM=$(CHROMIUM) \
	  $(PY) -m pytest
	$(MAKE) --no-print-directory lint-deploy
	@if [ "$(IMAGE_TEST)" = no ]; then echo "make test: IMAGE_TEST=no: the container image test was skipped"; \
	elif [ "$(IMAGE_TEST)" = yes ] || $(CONTAINER_BUILDER_AVAILABLE); then \
	  $(MAKE) --no-print-directory image-test; \
	else echo "make test: NOTE: no container builder (docker with an engine, buildah, or $(BASE_IMAGE_TOOL)): the container image test was skipped"; fi

## docs: the documentation site (docs/, mkdocs.yml) built into site/; make test builds it with --strict, so a
## broken link or anchor, or a page missing from the nav, fails
.PHONY: docs
docs: install-test
	$(VENV)/bin/mkdocs build

## messages: refresh the Simplified Chinese catalogue from the code and templates, then compile it (commit both
## locale/zh_Hans/LC_MESSAGES/django.po and .mo; tests/test_i18n.py fails on an untranslated or fuzzy message)
MESSAGES_IGNORE := --ignore=.venv --ignore=node_modules --ignore=staticfiles --ignore=bench --ignore=deploy --ignore=docker --ignore=tests --ignore='templates/admin/*'
messages: install
	DJANGO_LOCAL_MODE=true $(PY) manage.py makemessages -l zh_Hans --no-obsolete --no-location $(MESSAGES_IGNORE)
	DJANGO_LOCAL_MODE=true $(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

## train: retrain the served model from the insurance CSV (DATA=path, NAME=version name); a developer's
## step, so in local mode unless DJANGO_LOCAL_MODE is set (it writes files and touches no database)
DATA ?= ../shared/data/insurance.csv
train: install
	DJANGO_LOCAL_MODE=$${DJANGO_LOCAL_MODE:-true} $(PY) manage.py train_model --data $(DATA) $(if $(NAME),--name $(NAME))

## image-test: build the image, run it as an ECS task would against PostgreSQL, use it, stop it (docker/image_test.py)
BASE_IMAGE_TOOL := ../shared/tools/python-base-image
IMAGE_TEST ?= auto
CONTAINER_BUILDER_AVAILABLE = { docker info >/dev/null 2>&1 || command -v buildah >/dev/null || [ -x $(BASE_IMAGE_TOOL) ]; }
image-test: install postgres
	TEST_DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) docker/image_test.py

## lint-deploy: cfn-lint and checkov on the CloudFormation template, hadolint on the Dockerfile. Any finding
## fails; one that cannot be fixed is suppressed where it is (a checkov skip in the resource's Metadata, a
## hadolint ignore in the Dockerfile) with a one-line reason. checkov runs offline (--skip-download).
lint-deploy: install-test install-checkov
	$(VENV)/bin/cfn-lint deploy/template.yaml
	$(CHECKOV_VENV)/bin/checkov --file deploy/template.yaml --framework cloudformation --skip-download --quiet --compact
	$(VENV)/bin/hadolint Dockerfile

## deploy: build, push and run on AWS Fargate, print the URL (python -m deploy; ARGS="--region ... --vpc-id ...")
deploy: install-test
	$(PY) -m deploy $(ARGS)

## bench: the performance benchmark (bench/run.py, rate limits raised): the app as deployed on PostgreSQL against
## the floor (a bare Django view, one raw INSERT) in rounds, and the tutorial's predict_model-per-request server,
## in one run, with predict_csv against the lower bound of batch work on the same rows (bench/bound.py); then
## the forecast's timings (bench/forecast.py), challenger_score on 1,000,000 stored predictions (bench/challenger.py,
## its own database BENCH_CHALLENGER_DATABASE_URL), the rate limits (bench/limits.py) and the tools users would pick
## instead, MLflow and PyCaret's create_api, against this run's API figures (bench/alternatives.py, as in
## make bench-alternatives). BENCH_SECONDS per load, BENCH_ARGS (e.g. "--rounds 5" or "--quick"),
## BENCH_DATABASE_URL and BENCH_FLOOR_DATABASE_URL (databases it recreates), BENCH_APP_PORT, BENCH_FLOOR_PORT,
## BENCH_BASELINE_PORT (5100, 5300, 5200); fails if any misses a target
BENCH_SECONDS ?= 20
bench: install postgres
	results=$$(mktemp --suffix=.json); \
	$(PY) -m bench.run --seconds $(BENCH_SECONDS) --json $$results $(BENCH_ARGS); run=$$?; \
	$(PY) -m bench.forecast; forecast=$$?; \
	BENCH_DATABASE_URL=$(BENCH_CHALLENGER_DATABASE_URL) $(PY) -m bench.challenger; challenger=$$?; \
	$(PY) -m bench.limits; limits=$$?; \
	$(PY) -m bench.alternatives --seconds $(BENCH_SECONDS) --ours $$results; alternatives=$$?; \
	rm -f $$results; exit $$(( run || forecast || challenger || limits || alternatives ))

## bench-challenger: challenger_score on 1,000,000 stored predictions in its own database (BENCH_CHALLENGER_DATABASE_URL,
## recreated; default bench_challenger), target at most 60 s; BENCH_ARGS e.g. "--rows 100000"
BENCH_CHALLENGER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench_challenger
bench-challenger: install postgres
	BENCH_DATABASE_URL=$(BENCH_CHALLENGER_DATABASE_URL) $(PY) -m bench.challenger $(BENCH_ARGS)

## bench-alternatives: the serving tools users would pick instead, on the same pipeline and one-row load
## (bench/alternatives.py): MLflow's `mlflow models serve` and PyCaret's create_api app (uvicorn, 2 workers
## each), each in a virtualenv of its own that it builds under BENCH_VENVS (default .bench-venvs/) from
## bench/requirements-mlflow.txt and bench/requirements-pycaret-api.txt; requests/s, p50, p99 and our API's
## ratio (our API measured first, BENCH_DATABASE_URL recreated); they store nothing, we store every answer.
## BENCH_MLFLOW_PORT, BENCH_PYCARET_API_PORT (5600, 5610), ALTERNATIVES_ARGS (e.g. "--tool mlflow")
bench-alternatives: install postgres
	$(PY) -m bench.alternatives --seconds $(BENCH_SECONDS) $(ALTERNATIVES_ARGS)

## bench-profile: where a one-row API and form POST's time goes, by component (bench/profile.py: py-spy on one
## gunicorn worker under load; needs root or ptrace rights; BENCH_DATABASE_URL recreated, BENCH_APP_PORT); then
## the statement that stores a prediction, alone, in a loop (bench/statement.py), one-row POSTs handed straight
## to the app's and the floor's WSGI application (bench/inprocess.py), and what py-spy's shares mean (bench/sampling.py)
bench-profile: install-test postgres
	$(PY) -m bench.profile $(PROFILE_ARGS)

## bench-limits: rows stored per second by anonymous clients hammering the API and the form (also with spoofed
## X-Forwarded-For) through gunicorn with 2 workers, against the bound limit x records (bench/limits.py;
## BENCH_LIMITS_DATABASE_URL, default .../bench_limits, recreated; BENCH_LIMITS_PORT, default 5110)
bench-limits: install postgres
	$(PY) -m bench.limits $(LIMITS_ARGS)

## bench-cluster: a scale-out rehearsal (bench/cluster.py): three gunicorn instances (2 workers each) behind haproxy
## and one PostgreSQL, steady one-row API load while each instance in turn is drained, stopped with SIGTERM and
## started again; requests/s before, during and after; fails on any failed request or rows stored != 201 answers
## (BENCH_CLUSTER_DATABASE_URL, default .../bench_cluster, recreated; BENCH_CLUSTER_PORT, default 5400, instances
## on the next three ports; CLUSTER_ARGS="--seconds 10 --concurrency 8")
bench-cluster: install postgres haproxy
	BENCH_CLUSTER_HAPROXY=$(HAPROXY) $(PY) -m bench.cluster $(CLUSTER_ARGS)

## bench-forecast: only the forecast's timings (100,000 patients through manage.py forecast; 1,000,000 stored)
bench-forecast: install postgres
	$(PY) -m bench.forecast

## bench-admin: the staff console with a million predictions and monitoring with 200,000 actual charges
## (bench/admin_scale.py; ROWS=1000000, ACTUALS=ROWS/5)
ROWS ?= 1000000
bench-admin: install postgres
	$(PY) -m bench.admin_scale --rows $(ROWS) $(if $(ACTUALS),--actuals $(ACTUALS))

## bench-retention: purge_predictions on a million predictions over two years (bench/retention.py): the dry
## run, anonymise and delete, timed and checked, with the longest transaction (its own database, bench_retention)
bench-retention: install postgres
	$(PY) -m bench.retention --rows $(ROWS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .bench-venvs staticfiles .pytest_cache node_modules
