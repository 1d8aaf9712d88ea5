# How R finds Python, and what it says when it cannot.
run_r <- function(code, env) {
  rscript <- file.path(R.home("bin"), "Rscript")
  out <- suppressWarnings(system2(rscript, c("-e", shQuote(code)), stdout = TRUE,
                                  stderr = TRUE, env = env))
  paste(out, collapse = "\n")
}

test_that("histkit_python() reports the Python in use", {
  skip_without_python()
  info <- histkit_python()
  expect_true(file.exists(info$python))
  expect_match(info$histkit, "^[0-9]+[.][0-9]+")
})

test_that("a Python without histkit gives one clear R error", {
  old <- setwd(tempdir())  # not the checkout: histkit must not be importable from '.'
  on.exit(setwd(old))
  pythons <- c("/usr/bin/python3", Sys.which("python3"))
  lacks_histkit <- vapply(pythons, function(p) {
    file.exists(p) && suppressWarnings(system2(p, c("-c", "'import histkit'"),
                                               stdout = FALSE, stderr = FALSE)) != 0
  }, logical(1))
  skip_if(!any(lacks_histkit), "every python3 here has histkit")
  python <- pythons[lacks_histkit][1]
  code <- "histkit::to_history(data.frame(epoch = 0, loss = 1))"
  out <- run_r(code, c(paste0("HISTKIT_PYTHON=", python), "RETICULATE_PYTHON="))
  expect_match(out, "histkit: the Python package 'histkit' cannot be imported by")
  expect_match(out, "options\\(histkit.python = ")
  expect_false(grepl("Traceback|py_last_error", out))
  missing <- run_r(code, c("HISTKIT_PYTHON=/nonexistent/bin/python", "RETICULATE_PYTHON="))
  expect_match(missing, "histkit: Python /nonexistent/bin/python \\(from HISTKIT_PYTHON\\) does not exist")
})

test_that("the option beats the environment variables", {
  skip_without_python()
  old <- setwd(tempdir())
  on.exit(setwd(old))
  code <- sprintf("options(histkit.python = '%s'); cat(histkit::histkit_python()$python)",
                  histkit_python()$python)
  out <- run_r(code, c("HISTKIT_PYTHON=/nonexistent/bin/python", "RETICULATE_PYTHON="))
  expect_match(out, histkit_python()$python, fixed = TRUE)
})

test_that("library(histkit) starts the configured Python, or says why not", {
  skip_without_python()
  old <- setwd(tempdir())
  on.exit(setwd(old))
  code <- "library(histkit); cat('started:', reticulate::py_available())"
  ok <- run_r(code, c(paste0("HISTKIT_PYTHON=", histkit_python()$python), "RETICULATE_PYTHON="))
  expect_match(ok, "started: TRUE", fixed = TRUE)
  bad <- run_r(paste(code, "; histkit::read_history('x.csv')"),
               c("HISTKIT_PYTHON=/nonexistent/bin/python", "RETICULATE_PYTHON="))
  expect_match(bad, "started: FALSE")  # attaching did not fail ...
  expect_match(bad, "Error: histkit: Python /nonexistent/bin/python")  # ... the call does
})
