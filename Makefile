# flarekit: `make demo` and `make test` are all the set-up a fresh clone needs.
# Each creates .venv and installs the pinned dependencies when they are missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The demo experiment; `make demo DEMO=network_models/<task>/<experiment>` runs another.
DEMO ?= network_models/xray_flux_forecast/starting_point
PYTEST_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1

.PHONY: demo test lab bench install clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,beam]"
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 --display-name "Python 3 (flarekit)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) $(DEMO)/network.py

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(PY) tools/benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
