# Two commands set up everything: `make demo` and `make test`.
#
# Two release lines, picked by the interpreter (README, "Two release lines"):
#   Python 3.11 -> constraints.txt        (lsst-pipe-base 30.2026.500), venv .venv
#   Python 3.12 -> constraints-py312.txt  (lsst-pipe-base 30.2026.4300), venv .venv-3.12
# `make test PYTHON=/path/to/python3.12` (or `make test-py312`) runs the suite on the newer line.
PYTHON ?= python3
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ifeq ($(PYVER),3.11)
VENV ?= .venv
CONSTRAINTS ?= constraints.txt
else
VENV ?= .venv-$(PYVER)
CONSTRAINTS ?= constraints-py$(subst .,,$(PYVER)).txt
endif
# Python 3.12 for test-py312: pyenv's on these machines (not on PATH by
# default), else a python3.12 on PATH.
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON312 ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.12*/bin/python3.12))),python3.12)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_REPO ?= demo-repo

.PHONY: install demo test test-py312 test-all bench docs clean postgres
# tests/test_postgres.py starts its own throwaway server from these binaries.
PG_BIN ?= /usr/lib/postgresql/15/bin

$(PY):
	$(PYTHON) -m venv $(VENV)

constraints%.txt:
	@echo "no tested package set for Python $(PYVER): $@ does not exist (see README, 'Two release lines')" >&2; exit 1

# Reinstall when the project's requirements or pins change.
$(STAMP): $(PY) pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,bps]'
	touch $@

install: $(STAMP)

demo: install
	rm -rf $(DEMO_REPO)
	$(PY) -m pipetask_lite.demo $(DEMO_REPO)

# Lint first (seconds), then the suite on TEST_WORKERS processes (pytest-xdist).
# Three on the machines' two cores: much of the suite waits (on Parsl's 5 s
# ticks under BPS, on commands it signals or polls), and a third process fills
# those waits.  On a fresh clone the suite took 9:26 (3.11) and ~11 min (3.12)
# with two, 7:39-8:42 and 8:42-9:48 with three (and BPS's jobs warm, tests/warm.py;
# the machine's speed varies by ~10 %).  `make test TEST_WORKERS=0` runs it in one.
TEST_WORKERS ?= 3
PYTEST_ARGS ?=
test: install postgres
	$(PY) -m ruff check pipetask_lite tests
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Debian's PostgreSQL server (with btree_gist), installed where it is missing;
# it is only started by the tests.
postgres:
	@test -x $(PG_BIN)/initdb || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

test-py312:
	$(MAKE) test PYTHON=$(PYTHON312)

# Both lines, one after the other (what CI runs).
test-all:
	$(MAKE) test; first=$$?; $(MAKE) test-py312; second=$$?; \
	echo "make test: Python 3.11 line exit $$first, Python 3.12 line exit $$second"; \
	test $$first -eq 0 -a $$second -eq 0

bench: install
	$(PY) bench/bench_help.py
	$(PY) bench/bench_quanta.py

clean:
	rm -rf .venv .venv-3.* $(DEMO_REPO) *.egg-info .pytest_cache

docs: install
	$(PY) -m pipetask_lite._options_doc > docs/options.md
	$(PY) -m pipetask_lite._tutorial_notebook > docs/tutorial.ipynb
