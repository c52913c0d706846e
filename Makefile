# stylelib: reproducibility suite for seven style-transfer papers.
#
#   make setup                 create .venv (python3.11, pinned torch, stylelib[dev]); once
#   make test                  unit tests, then every notebook under nbval (CI parameters)
#   make reproduce             run every notebook with PROFILE=quick and index figures/
#   make reproduce PROFILE=ci|quick|paper  [ONLY="00_gatys 01_x"]
#   make weights [PROFILE=quick]  retrain and register the networks the notebooks use
#   make lab [FRESH=1]         JupyterLab on copies of the notebooks (build/lab/), at the index
#   make data | bench | sync | nb-outputs | screenshots | clean
#
# Benchmark images are read from $STYLELIB_DATA (never copied into the repo); when
# it is unset and ../shared/data exists, that folder is used.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

ROOT := $(abspath .)
PYTHON3 ?= python3.11
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp
PROFILE ?= quick
ONLY ?=
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

ifeq ($(strip $(STYLELIB_DATA)),)
  ifneq ($(wildcard $(ROOT)/../shared/data/.),)
    STYLELIB_DATA := $(abspath $(ROOT)/../shared/data)
  endif
endif
ifneq ($(strip $(STYLELIB_DATA)),)
  export STYLELIB_DATA
endif
# nbval runs the ci copies (tests/notebooks/, made by `make nb-outputs`); notebooks/NN.ipynb carry the quick outputs.
NOTEBOOKS := $(sort $(wildcard tests/notebooks/[0-9][0-9]_*.ipynb))
NB_SOURCES := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))

.PHONY: help setup test test-unit test-notebooks reproduce lab data bench weights clean distclean sync nb-outputs screenshots

help:
	@sed -n '3,12p' Makefile | sed 's/^# \{0,1\}//'

# --- environment -------------------------------------------------------------

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON3) >/dev/null || { echo "error: $(PYTHON3) not found; install Python 3.11 or run make PYTHON3=/path/to/python3.11" >&2; exit 2; }
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

# --- tests ---------------------------------------------------------------------

NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg \
               --nbval-cell-timeout 600 -p no:cacheprovider
# NBVAL_WORKERS=2 runs two notebooks at once (pytest-xdist, one worker per notebook file).
# Off by default: on 2 cores the notebooks' own torch threads already use both.
NBVAL_WORKERS ?= 1
ifneq ($(strip $(NBVAL_WORKERS)),1)
  NBVAL_FLAGS += -n $(NBVAL_WORKERS) --dist loadfile
endif

test: test-unit test-notebooks

test-unit: $(STAMP)
	$(PY) -m pytest -q tests

# Every notebook's ci copy (tests/notebooks/NN.ipynb), executed top to bottom with the ci
# parameters injected; outputs not tagged nbval-ignore-output must match the committed ones.
test-notebooks: $(STAMP)
	$(PY) -m pytest -q $(NBVAL_FLAGS) $(or $(NOTEBOOKS),tests/notebooks/)

# --- figures ---------------------------------------------------------------------

# Runs notebooks/NN_*.ipynb with papermill (cwd notebooks/):
#   papermill NN.ipynb build/$(PROFILE)/NN.ipynb -f params/$(PROFILE)/NN.yaml -p figures_dir figures/NN
# after checking every parameter file (a missing one stops the run before any
# notebook starts), then indexes figures/ into figures/README.md and notebooks/index.ipynb.
# PROFILE=quick also rewrites notebooks/NN.ipynb with the run's outputs (what a student opens).
reproduce: $(STAMP) sync
	status=0; \
	$(PY) -m stylelib.report.notebooks run --profile '$(PROFILE)' \
	    --notebooks-dir '$(ROOT)/notebooks' --params-dir '$(ROOT)/params' \
	    --build-dir '$(ROOT)/build' --figures-dir '$(ROOT)/figures' \
	    $(if $(strip $(ONLY)),--only $(ONLY)) || status=$$?; \
	if [ $$status -ne 2 ]; then $(PY) -m stylelib.report.notebooks index '$(ROOT)/figures'; fi; \
	exit $$status

# JupyterLab on a copy of the notebooks in build/lab/ (ignored by git): what a student edits,
# runs or saves there never changes a tracked file. A copy is refreshed only when the committed
# notebook is newer than it (your own edits are kept); `make lab FRESH=1` starts again from the
# committed notebooks.
LAB := $(ROOT)/build/lab
lab: $(STAMP)
	mkdir -p '$(LAB)'
	$(if $(FRESH),rm -f '$(LAB)'/*.ipynb)
	cp -u notebooks/*.ipynb '$(LAB)/'
	cd '$(LAB)' && $(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.root_dir='$(LAB)' --LabApp.default_url=/lab/tree/index.ipynb

data: $(STAMP)
	$(PY) -m stylelib.data.download '$(or $(STYLELIB_DATA),$(ROOT)/data)'

bench: $(STAMP)
	$(PY) -m stylelib.report.bench --out figures/bench

# Retrain every network the notebooks use at PROFILE (quick: the committed weights) and
# rewrite stylelib/weights/registry.json: `stylelib train all` walks stylelib.catalog in
# training order (photowct, adain and wct2 start from the WCT decoders). Hours on a CPU:
# each model's time budget is its config's `seconds`, its last run's time is in the registry.
weights: $(STAMP)
	$(VENV)/bin/stylelib train all --profile '$(PROFILE)'
	$(VENV)/bin/stylelib weights verify

# Jupytext pairs notebooks/NN_*.py (the source) with NN_*.ipynb (committed with outputs).
sync: $(STAMP)
	$(if $(NB_SOURCES),$(VENV)/bin/jupytext --sync $(NB_SOURCES),@echo "no notebooks/NN_*.py")

# After editing a notebook source: sync notebooks/NN.ipynb with it (outputs kept) and run it with
# params/ci into tests/notebooks/NN.ipynb, nbval's reference outputs. The quick outputs of
# notebooks/NN.ipynb come from `make reproduce` (ONLY=NN_name for one notebook).
nb-outputs: sync
	$(PY) -m stylelib.report.publish ci-copies $(ONLY)

# docs/screenshots/: two notebooks as a student sees them in JupyterLab (the browser test, kept).
screenshots: $(STAMP)
	STYLELIB_SCREENSHOTS='$(ROOT)/docs/screenshots' $(PY) -m pytest -q tests/test_browser.py -k "quick_figures"

clean:
	rm -rf build .pytest_cache notebooks/.ipynb_checkpoints
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv *.egg-info
