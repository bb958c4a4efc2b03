# Two commands set up everything: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_REPO ?= demo-repo

.PHONY: install demo test bench docs clean postgres
# tests/test_postgres.py starts its own throwaway server from these binaries.
PG_BIN ?= /usr/lib/postgresql/15/bin

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's requirements or pins change.
$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,bps]'
	touch $@

install: $(STAMP)

demo: install
	rm -rf $(DEMO_REPO)
	$(PY) -m pipetask_lite.demo $(DEMO_REPO)

test: install postgres
	$(PY) -m pytest -q

# Debian's PostgreSQL server (with btree_gist), installed where it is missing;
# it is only started by the tests.
postgres:
	@test -x $(PG_BIN)/initdb || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

bench: install
	$(PY) bench/bench_help.py
	$(PY) bench/bench_parallel.py

clean:
	rm -rf $(VENV) $(DEMO_REPO) *.egg-info .pytest_cache

docs: install
	$(PY) -m pipetask_lite._options_doc > docs/options.md
