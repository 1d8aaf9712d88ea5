# histkit: `make demo` renders the shipped run/ tree into reports/;
# `make test` installs everything the tests need (R and Chromium from Debian
# included) and runs pytest and testthat.

PYTHON ?= /usr/bin/python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Debian packages the tests need; installed only when one is missing.
DEB_PACKAGES := r-base-core r-cran-reticulate r-cran-ggplot2 r-cran-patchwork \
                r-cran-dplyr r-cran-readr r-cran-testthat chromium

.PHONY: demo test check-r system-deps train-demo bench clean help

help:
	@echo "make demo   build .venv, install histkit, render run/ into reports/"
	@echo "make test   install test dependencies (R, Chromium included) and run all tests"
	@echo "make train-demo   retrain the demo study in run/ with histkit train"
	@echo "make check-r  R CMD check the built R package (its tests use this checkout's .venv)"
	@echo "make bench  run every benchmark in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[tensorboard]"
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.system | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev,train,r,tensorboard]"
	touch $@ $(VENV)/.core

$(VENV)/.system: | $(BIN)/python
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends $$missing; \
	fi
	touch $@

system-deps: $(VENV)/.system

R_SOURCES := r/DESCRIPTION r/NAMESPACE $(wildcard r/R/*.R)

# the R package, into the default R library (root), reinstalled when r/ changes
$(VENV)/.rpkg: $(VENV)/.system $(R_SOURCES)
	R CMD INSTALL r
	touch $@

demo: $(VENV)/.core
	@if ls run/*/*/*/*.csv >/dev/null 2>&1; then \
	  $(BIN)/histkit runs run && \
	  $(BIN)/histkit report run -o reports/fat_study --labels pipelines/labels.R \
	    --title "Fat segmentation study"; \
	else \
	  echo "run/ holds no histories yet: train some with 'histkit train' (see run/README.md)"; \
	fi

test: $(VENV)/.test $(VENV)/.rpkg
	$(BIN)/python -m pytest -q
	tests/r/run_testthat.sh $(CURDIR)/$(BIN)/python

# R CMD check of the built R package, outside the checkout (as CRAN would run it)
check-r: $(VENV)/.test $(VENV)/.rpkg
	rm -rf build/r-check && mkdir -p build/r-check
	cd build/r-check && R CMD build $(CURDIR)/r && \
	  HISTKIT_PYTHON=$(CURDIR)/$(BIN)/python RETICULATE_PYTHON=$(CURDIR)/$(BIN)/python \
	  R CMD check --no-manual histkit_*.tar.gz

# retrain the demo study in run/ (about 30 minutes on 2 cores; finished runs are skipped)
train-demo: $(VENV)/.test
	run/train_demo.sh

# every benchmark; each prints its ratios against a baseline measured in the same run
bench: $(VENV)/.test
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/train_speed.py --threads 2
	$(BIN)/python bench/fast_paths.py --threads 2
	dpkg -s r-cran-tidyr >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends r-cran-tidyr
	$(BIN)/python bench/plot_speed.py
	HISTKIT_PYTHON=$(CURDIR)/$(BIN)/python Rscript bench/r_vs_python.R

clean:
	rm -rf $(VENV) reports build *.egg-info
