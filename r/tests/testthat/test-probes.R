# read_probes(): the probes of a real (tiny) run, trained by the `histkit`
# command in its own process on one thread, against Python's read_probes()
# called through reticulate and converted here, not by histkit's own boundary.

probe_run <- local({
  path <- NULL
  function() {
    if (!is.null(path)) return(path)
    py <- histkit_python()$python
    root <- tempfile("histkit-probes-")
    args <- c("-m", "histkit", "train", "--dataset", "fat", "--shape", "32x16x1",
              "--n-train", "8", "--n-val", "4", "--levels", "2", "--base-filters", "4",
              "--epochs", "3", "--threads", "1", "--root", shQuote(root),
              "--date", "2026-11-23")
    out <- suppressWarnings(system2(py, args, stdout = TRUE, stderr = TRUE,
                                    env = c("OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1")))
    if (!is.null(attr(out, "status"))) {
      has_torch <- suppressWarnings(system2(py, c("-c", shQuote(
        "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)")),
        stdout = FALSE, stderr = FALSE)) == 0
      skip_if_not(has_torch, "histkit train needs torch (pip install -e '.[train]')")
      stop("histkit train failed:\n", paste(out, collapse = "\n"))
    }
    csv <- grep("[.]csv$", out, value = TRUE)
    stopifnot(length(csv) == 1, file.exists(csv))
    path <<- csv
    csv
  }
})

# Python's tables, each column converted by reticulate from a plain list
# (None -> NA), and each column's polars type
python_probes <- function(csv) {
  probes <- reticulate::import("histkit")$read_probes(csv)
  tables <- c("scalars", "histograms", "activations", "shares", "input", "images")
  sapply(tables, simplify = FALSE, function(name) {
    frame <- probes[[name]]
    cols <- unlist(frame$columns)
    list(names = cols,
         dtypes = vapply(cols, function(c) reticulate::py_str(frame$get_column(c)$dtype), ""),
         columns = lapply(stats::setNames(nm = cols), function(c) {
           v <- frame$get_column(c)$to_list()
           unlist(lapply(v, function(x) if (is.null(x)) NA else x))
         }))
  })
}

test_that("read_probes() gives Python's tables, column by column", {
  skip_without_python()
  csv <- probe_run()
  got <- read_probes(csv)
  want <- python_probes(csv)
  expect_named(got, c("scalars", "histograms", "activations", "shares", "input", "images"))
  r_type <- c(Int64 = "integer", Float64 = "double", String = "character")
  for (name in names(want)) {
    df <- got[[name]]
    expect_s3_class(df, "data.frame")
    expect_identical(names(df), want[[name]]$names, label = name)
    expect_gt(nrow(df), 0)
    for (col in names(df)) {
      what <- sprintf("%s$%s", name, col)
      expect_identical(typeof(df[[col]]), unname(r_type[want[[name]]$dtypes[[col]]]),
                       label = what)
      expected <- want[[name]]$columns[[col]]
      storage.mode(expected) <- typeof(df[[col]])
      expect_identical(df[[col]], expected, label = what)
      # waldo (testthat 3e) takes NaN for NA; base identical() does not
      expect_true(identical(df[[col]], expected), label = what)
    }
  }
  expect_identical(sort(unique(got$scalars$epoch)), 0:2)
  expect_true(any(is.nan(got$scalars$update_ratio)))  # layers that start at zero
  expect_true(all(file.exists(got$images$path)))
  expect_setequal(got$images$kind, c("activation", "gradient", "predictions"))
  # the .probes directory reads the same
  expect_identical(read_probes(sub("[.]csv$", ".probes", csv)), got)
})

test_that("a run without probes, or no file at all, is one clean error", {
  skip_without_python()
  path <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 3)
  err <- expect_error(read_probes(path), "no probes beside this history")
  expect_match(conditionMessage(err), "^histkit: .*h[.]csv: no probes beside this history")
  expect_match(conditionMessage(err), "--no-probes", fixed = TRUE)
  expect_false(grepl("\n|Traceback|py_last_error", conditionMessage(err)))
  expect_null(conditionCall(err))
  missing <- file.path(tempfile(), "nope.csv")
  err <- expect_error(read_probes(missing), "no such file or directory")
  expect_identical(conditionMessage(err),
                   sprintf("histkit: %s: no such file or directory", missing))
  expect_error(read_probes(c("a.csv", "b.csv")), "^histkit: path must be one file path$")
  expect_error(read_probes(NA_character_), "^histkit: path must be one file path$")
})

test_that("NaN, infinite edges and missing values cross as themselves", {
  skip_without_python()
  path <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 2)
  dir <- sub("[.]csv$", ".probes", path)
  dir.create(file.path(dir, "scalars"), recursive = TRUE)
  dir.create(file.path(dir, "histograms"))
  code <- paste(
    "import math, polars as pl",
    sprintf("d = %s", encodeString(dir, quote = "'")),
    "pl.DataFrame({'epoch': [0, 1], 'layer': ['a.bias', None], 'weight_norm': [0.0, 1.5],",
    "              'grad_norm': [None, 0.25], 'update_ratio': [math.nan, 0.01]}",
    "             ).write_parquet(d + '/scalars/0000.parquet')",
    "pl.DataFrame({'epoch': [0, 0, 7], 'layer': ['a'] * 3, 'kind': ['weight'] * 3,",
    "              'bin': [0, 38, 1], 'lo': [-math.inf, 10.0, -10.0],",
    "              'hi': [-10.0, math.inf, -3.16], 'count': [1, 2, 3]}",
    "             ).write_parquet(d + '/histograms/0000.parquet')",
    sep = "\n")
  reticulate::py_run_string(code, local = TRUE)
  got <- read_probes(path)
  # base identical(): waldo (testthat 3e) takes NaN for NA
  expect_true(identical(got$scalars$update_ratio, c(NaN, 0.01)))
  expect_true(identical(got$scalars$grad_norm, c(NA, 0.25)))
  expect_identical(got$scalars$layer, c("a.bias", NA))
  expect_identical(got$histograms$lo, c(-Inf, 10))
  expect_identical(got$histograms$hi, c(-10, Inf))
  expect_identical(got$histograms$epoch, c(0L, 0L))  # epoch 7 is not in the history
  # tables the run has no file of: an epoch column, no rows
  expect_identical(got$shares, data.frame(epoch = integer()))
  expect_identical(names(got$images), c("epoch", "kind", "index", "path"))
  expect_identical(nrow(got$images), 0L)
})
