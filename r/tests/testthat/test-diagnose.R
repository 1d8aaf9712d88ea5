# R's diagnose() against Python's histkit.diagnosis.diagnose() on the same
# runs. The finding texts and thresholds belong to Python and may change, so
# nothing here spells them out: every table is compared with Python's.

FINDING_COLUMNS <- c("run", "rule", "severity", "epoch", "metric", "data", "evidence",
                     "advice")

# The tests' own histories, in fixtures/: copies of real `histkit train` runs
# made by the checkout's tests/fixtures/make_diagnosis.py (the cases of
# bench/diagnose_devset.py of the same names; fixtures/README.md says which),
# so that the built package carries them.
DEV_RUNS <- c(
  "stuck_ce_sgd_lr1e-6" = "unet_2d_ce_SGD_fat_64x64x1_N32_E20_L3_FBL8_LR1e-6.csv",
  "diverged_sgd_lr100" = "unet_2d_ce_SGD_fat_64x64x1_N32_E20_L3_FBL8_LR1e2.csv",
  "slow_ce_sgd_lr1e-4" = "unet_2d_ce_SGD_fat_64x64x1_N32_E30_L3_FBL8_LR1e-4.csv",
  # healthy: no finding at all
  "healthy_unet_mdice" = "unet_2d_mdice_AdaDelta_fat_64x64x1_N32_E30_L3_FBL8.csv"
)

# The one history of a labelled run.
dev_run <- function(label) {
  path <- test_path("fixtures", DEV_RUNS[[label]])
  if (!file.exists(path)) stop("missing test fixture ", path)
  normalizePath(path)
}

# Python's findings, read by Python itself (histkit.read_history) and handed
# back as plain lists: a data.frame built here, not by histkit's own
# converters, so a bug there cannot hide. `runs`: named paths, one run each,
# stacked into one long table keyed by `key` (the names) when given.
python_findings <- function(paths, run = NULL, key = NULL, ...) {
  reticulate::py_run_string(paste(
    "import polars as _pl, histkit as _hk",
    "def _histkit_test_table(paths, key):",
    "    if key is None:",
    "        return _hk.read_history(paths[0])",
    "    return _pl.concat([_hk.to_history(_hk.read_history(p)).with_columns(",
    "        _pl.col('metric', 'data').cast(_pl.String), _pl.lit(n).alias(key))",
    "        for n, p in paths.items()])",
    sep = "\n"), convert = FALSE)
  main <- reticulate::import_main(convert = TRUE)
  dx <- reticulate::import("histkit.diagnosis", convert = FALSE)
  paths <- if (is.null(key)) list(unname(paths[[1]])) else as.list(paths)
  table <- main$`_histkit_test_table`(paths, key)
  found <- dx$diagnose(table, run = run, ...)
  cols <- reticulate::py_to_r(found$to_dict(as_series = FALSE))
  out <- lapply(names(cols), function(name) {
    x <- cols[[name]]
    na <- if (name == "epoch") NA_integer_ else NA_character_
    vapply(x, function(v) if (is.null(v)) na else v, na, USE.NAMES = FALSE)
  })
  names(out) <- names(cols)
  as.data.frame(out, stringsAsFactors = FALSE, optional = TRUE)
}

expect_same_findings <- function(r, py) {
  expect_s3_class(r, "data.frame")
  expect_identical(names(r), names(py))
  expect_identical(nrow(r), nrow(py))
  expect_type(r$epoch, "integer")
  for (col in setdiff(names(r), "epoch")) {
    expect_type(r[[col]], "character")
  }
  for (col in names(py)) {
    expect_identical(r[[col]], py[[col]], label = sprintf("R's column %s", col))
  }
}

test_that("a stuck run, read with readr as the seed does, gives Python's findings", {
  skip_without_python()
  path <- dev_run("stuck_ce_sgd_lr1e-6")
  tb <- read_quietly(path)
  r <- diagnose(tb, run = "stuck")
  py <- python_findings(path, run = "stuck")
  expect_identical(names(r), FINDING_COLUMNS)
  expect_gt(nrow(r), 0)
  expect_same_findings(r, py)
  expect_true("stuck" %in% r$rule)
  # the long table of to_history() gives the same
  expect_identical(diagnose(to_history(tb), run = "stuck"), r)
  # without run = the run is NA, as Python's null
  unnamed <- diagnose(tb)
  expect_same_findings(unnamed, python_findings(path))
  expect_true(all(is.na(unnamed$run)))
  # classes and rules reach Python
  expect_same_findings(diagnose(tb, classes = 3, rules = "stuck", run = "stuck"),
                       python_findings(path, run = "stuck", classes = 3L,
                                       rules = list("stuck")))
})

test_that("a diverged run gives Python's findings, errors first", {
  skip_without_python()
  path <- dev_run("diverged_sgd_lr100")
  r <- diagnose(read_quietly(path), run = "diverged")
  expect_same_findings(r, python_findings(path, run = "diverged"))
  expect_true("diverged" %in% r$rule)
  expect_identical(r$severity[1], "error")
})

test_that("a healthy run gives no rows, with the same columns", {
  skip_without_python()
  path <- dev_run("healthy_unet_mdice")
  r <- diagnose(read_quietly(path), run = "healthy")
  expect_same_findings(r, python_findings(path, run = "healthy"))
  expect_identical(nrow(r), 0L)
  expect_identical(names(r), FINDING_COLUMNS)
  # keyed by run in a long table: no rows, the same columns
  long <- to_history(read_quietly(path))
  long$run <- "healthy"
  keyed <- diagnose(long)
  expect_same_findings(keyed, python_findings(c(healthy = path), key = "run"))
  expect_identical(names(keyed), FINDING_COLUMNS)
  # no rule at all: no rows either
  expect_identical(names(diagnose(read_quietly(path), rules = character())), FINDING_COLUMNS)
})

test_that("a long table of several runs keyed by run gives Python's findings", {
  skip_without_python()
  paths <- c(stuck = dev_run("stuck_ce_sgd_lr1e-6"),
             healthy = dev_run("healthy_unet_mdice"),
             diverged = dev_run("diverged_sgd_lr100"),
             slow = dev_run("slow_ce_sgd_lr1e-4"))
  long <- do.call(rbind, lapply(names(paths), function(n) {
    h <- to_history(read_quietly(paths[[n]]))
    h$run <- n
    h
  }))
  r <- diagnose(long)
  py <- python_findings(paths, key = "run")
  expect_same_findings(r, py)
  expect_identical(names(r), FINDING_COLUMNS)
  # none for the healthy one (the order of the runs is Python's, compared above)
  expect_false("healthy" %in% r$run)
  expect_true(all(c("stuck", "diverged") %in% r$run))
  # a tibble and factor keys give the same
  skip_if_not_installed("dplyr")
  tbl <- dplyr::mutate(dplyr::as_tibble(long), run = factor(run, levels = names(paths)))
  expect_identical(diagnose(tbl), r)
})

test_that("a path column keys the runs and leads the result", {
  skip_without_python()
  paths <- c(dev_run("stuck_ce_sgd_lr1e-6"), dev_run("diverged_sgd_lr100"))
  names(paths) <- paths
  long <- do.call(rbind, lapply(paths, function(p) {
    h <- to_history(read_quietly(p))
    h$path <- p
    h
  }))
  rownames(long) <- NULL
  r <- diagnose(long)
  expect_same_findings(r, python_findings(paths, key = "path"))
  expect_identical(names(r), c("path", FINDING_COLUMNS))
})

test_that("bad classes, rules and run give one-line errors", {
  skip_without_python()
  tb <- read_quietly(dev_run("stuck_ce_sgd_lr1e-6"))
  one_line <- function(expr, pattern) {
    err <- tryCatch({ expr; NULL }, error = function(e) conditionMessage(e))
    expect_false(is.null(err))
    expect_length(strsplit(err, "\n", fixed = TRUE)[[1]], 1)
    expect_match(err, pattern, fixed = TRUE)
  }
  for (bad in list(1, 2.5, "3", c(3, 4), NA_real_, Inf)) {
    one_line(diagnose(tb, classes = bad), "histkit: classes must be one whole number of at least 2")
  }
  one_line(diagnose(tb, rules = "nope"), "histkit: unknown rule 'nope'")
  one_line(diagnose(tb, rules = c("stuck", "nope")), "histkit: unknown rule 'nope'")
  one_line(diagnose(tb, rules = 3), "histkit: rules must be a character vector of rule ids")
  one_line(diagnose(tb, run = c("a", "b")), "histkit: run must be one string")
  one_line(diagnose(as.list(tb)), "histkit: hist must be a data.frame or tibble")
  # classes = 3 (a double in R) is accepted
  expect_s3_class(diagnose(tb, classes = 3), "data.frame")
})
