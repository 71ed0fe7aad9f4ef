# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
DEMO_OUT ?= runs/demo
K ?= 5
STUDENTS ?= 2000

.PHONY: demo test lab bench calibrate templates district clean help

help:
	@echo "make demo       install into .venv and audit the bundled synthetic district"
	@echo "make test       install the test extras into .venv and run the whole suite"
	@echo "make lab        open JupyterLab on notebooks/"
	@echo "make bench      time the audit on the bundled district and on 100,000 students"
	@echo "make calibrate  false flags and power of every analysis on K simulated districts of each kind"
	@echo "                (K=5 STUDENTS=2000, the bundled district's size, by default; K=10 takes 3-4 minutes on 2 idle cores)"
	@echo "make templates  regenerate templates/data/ from the data contract"
	@echo "make district   regenerate the bundled synthetic district in data/synthetic/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	@touch $@

$(VENV)/.lab: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[lab]'
	@touch $@

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[bench]'
	@touch $@

demo: $(VENV)/.base
	$(BIN)/equity-audit run --data data/synthetic --out $(DEMO_OUT)
	@echo "Open the report: $(abspath $(DEMO_OUT))/report.html"

test: $(VENV)/.test
	$(BIN)/python -m pytest

lab: $(VENV)/.lab
	$(BIN)/jupyter lab notebooks/

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

calibrate: $(VENV)/.base
	$(BIN)/python benchmarks/calibrate.py --k $(K) --students $(STUDENTS)

templates: $(VENV)/.base
	$(BIN)/equity-audit templates --out templates/data

district: $(VENV)/.base
	$(BIN)/equity-audit synth --students 2000 --seed 2017 --out data/synthetic

clean:
	rm -rf $(VENV) runs
