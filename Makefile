# make run   – set up a virtualenv, migrate, seed demo data, serve on http://127.0.0.1:8000/
#              (DEMO=0: no demo data; an empty install opens the first-run set-up)
# make test  – the whole test suite, browser tests included
# make bench – the benchmark against PostgreSQL
# make loadtest – a mixed-action load on one board through gunicorn and PostgreSQL
# make lint  – ruff check and ruff format --check
# make messages – regenerate locale/{da,nb,sv,de}/LC_MESSAGES/{django,djangojs}.po from the
#              code (translations kept, obsolete ones dropped) and compile them

SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# DEMO=0 skips the demo data: a new database then opens the first-run set-up.
DEMO ?= 1
BENCH_DATABASE_URL := postgres://postgres@127.0.0.1:5432/crm_bench
LOADTEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/crm_loadtest

.PHONY: venv run test bench loadtest lint messages compilemessages

venv: $(VENV)/.installed

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[dev]'
	touch $@

# The .mo files are built, never committed (.gitignore): every target that runs the app
# compiles the catalogues first, in pure Python (crm/devtools/messages.py, no GNU gettext);
# a .mo is rewritten only when its catalogue changed.
compilemessages: export DJANGO_SECRET_KEY ?= insecure-key-for-compiling-only
compilemessages: venv
	$(PY) manage.py messages_compile

messages: export DJANGO_SECRET_KEY ?= insecure-key-for-compiling-only
messages: venv
	$(PY) manage.py messages_update

# The embedded setup: without DATABASE_URL / CELERY_BROKER_URL, settings use SQLite and
# Celery's filesystem broker under var/.
run: export DJANGO_DEBUG = 1
# Links in mail and the set-up link in the log point at this server.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: venv compilemessages
	$(PY) manage.py migrate --noinput
ifeq ($(DEMO),0)
	@echo
	@echo "  CRM running at http://127.0.0.1:$(PORT)/ (no demo data)"
	@$(PY) manage.py setup_link
else
	$(PY) manage.py seed_demo --if-empty
	@echo
	@echo "  CRM running at http://127.0.0.1:$(PORT)/"
	@echo
	@echo "  Demo logins (password: demo)"
	@echo "    admin   administrator"
	@echo "    maria   manager, team North"
	@echo "    sven    salesperson, team North"
	@echo "    lena    salesperson, team North"
	@echo "    karl    salesperson, team South"
endif
	@echo
	@echo "  Ctrl-C stops the web server, the Celery worker and Celery beat."
	@echo
	@# The three run as one process group of their own; Ctrl-C (or any of them exiting)
	@# sends TERM to the whole group, runserver's autoreload child included, and waits
	@# for the worker's warm shutdown.
	@set -m; \
	( \
		trap 'wait; exit 143' TERM; \
		$(VENV)/bin/celery -A crm worker --pool=solo --loglevel=info & \
		$(VENV)/bin/celery -A crm beat --schedule var/celerybeat-schedule --loglevel=info & \
		$(PY) manage.py runserver 127.0.0.1:$(PORT) & \
		wait -n; kill -TERM 0 \
	) & group=$$!; \
	set +m; \
	trap 'kill -TERM -- -$$group 2>/dev/null; wait $$group; exit 0' INT TERM; \
	wait $$group

test: export DJANGO_SECRET_KEY ?= insecure-key-for-tests-only
test: venv compilemessages
	$(PY) -m pytest $(PYTEST_ARGS)

# DEBUG stays off so the numbers are production-like. The benchmark talks plain HTTP to
# 127.0.0.1: no HTTPS redirect, no Secure-only cookies, and plain static storage so pages
# render without a collectstatic manifest.
bench: export DATABASE_URL ?= $(BENCH_DATABASE_URL)
bench: export DJANGO_SECRET_KEY ?= insecure-key-for-benchmarks-only
bench: export DJANGO_ALLOWED_HOSTS ?= 127.0.0.1,localhost,testserver
bench: export DJANGO_SECURE_SSL_REDIRECT ?= false
bench: export DJANGO_SECURE_COOKIES ?= false
bench: export DJANGO_PLAIN_STATIC ?= 1
bench: venv compilemessages
	createdb -h 127.0.0.1 -U postgres crm_bench 2>/dev/null || true
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bench --skip-scan $(BENCH_ARGS)
	$(PY) manage.py bench_scan $(BENCH_SCAN_ARGS)
	$(PY) manage.py bench_reports $(BENCH_REPORTS_ARGS)
	$(PY) manage.py bench_analytics $(BENCH_ANALYTICS_ARGS)
	$(PY) manage.py bench_api $(BENCH_API_ARGS)
	$(PY) manage.py bench_leadforms $(BENCH_LEADFORMS_ARGS)
	$(PY) manage.py bench_imports $(BENCH_IMPORTS_ARGS)
	$(PY) manage.py bench_webhooks $(BENCH_WEBHOOKS_ARGS)

# Like bench: DEBUG off, plain HTTP on 127.0.0.1, plain static storage; its own database with
# the demo organisation. Fails when any request answered 5xx or a connection dropped.
loadtest: export DATABASE_URL ?= $(LOADTEST_DATABASE_URL)
loadtest: export DJANGO_SECRET_KEY ?= insecure-key-for-benchmarks-only
loadtest: export DJANGO_ALLOWED_HOSTS ?= 127.0.0.1,localhost,testserver
loadtest: export DJANGO_SECURE_SSL_REDIRECT ?= false
loadtest: export DJANGO_SECURE_COOKIES ?= false
loadtest: export DJANGO_PLAIN_STATIC ?= 1
loadtest: venv compilemessages
	createdb -h 127.0.0.1 -U postgres crm_loadtest 2>/dev/null || true
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py loadtest $(LOADTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
