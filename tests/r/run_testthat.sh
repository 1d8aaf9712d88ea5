#!/bin/sh
# Run the R package's testthat suite against the installed R package and the
# checkout's Python (make test installs both first: R CMD INSTALL r).
# Usage: tests/r/run_testthat.sh [PYTHON]   (default: .venv/bin/python)
set -eu
cd "$(dirname "$0")/../.."
python="${1:-${HISTKIT_PYTHON:-$PWD/.venv/bin/python}}"
case "$python" in /*) ;; *) python="$PWD/$python" ;; esac
HISTKIT_PYTHON="$python" RETICULATE_PYTHON="$python" HISTKIT_TEST_REQUIRE_PYTHON=1 \
  exec Rscript -e 'res <- as.data.frame(testthat::test_dir("r/tests/testthat", reporter = testthat::SummaryReporter$new(), stop_on_failure = TRUE)); bad <- sum(res$failed > 0 | res$error); skip <- sum(res$skipped); cat(sprintf("testthat: %d passed, %d failed, %d skipped\n", nrow(res) - bad - skip, bad, skip))'
