# Two commands set up everything: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_REPO ?= demo-repo

.PHONY: install demo test bench docs clean

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

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) bench/bench_help.py
	$(PY) bench/bench_parallel.py

clean:
	rm -rf $(VENV) $(DEMO_REPO) *.egg-info .pytest_cache

docs: install
	$(PY) -m pipetask_lite._options_doc > docs/options.md
