library(histkit)

# Shared fixtures: Keras-CSVLogger-style histories written under tempdir(),
# and the Python that holds histkit (the project's .venv unless
# HISTKIT_PYTHON / RETICULATE_PYTHON / option histkit.python says otherwise).

project_python <- function() {
  for (p in c(getOption("histkit.python"), Sys.getenv("HISTKIT_PYTHON"),
              Sys.getenv("RETICULATE_PYTHON"))) {
    if (length(p) == 1 && nzchar(p)) return(p)
  }
  # r/tests/testthat -> the checkout's .venv. Not normalizePath() on the
  # python itself: a venv's python is a symlink to the system one, and the
  # venv is found through the path of the link.
  for (up in c("../../..", "../..", "..", ".")) {
    venv <- normalizePath(file.path(up, ".venv"), mustWork = FALSE)
    p <- file.path(venv, "bin", "python")
    if (file.exists(p)) return(p)
  }
  ""
}

if (is.null(getOption("histkit.python")) && nzchar(project_python())) {
  options(histkit.python = project_python())
}

# Skips when histkit's Python cannot be found, unless HISTKIT_TEST_REQUIRE_PYTHON
# is set (tests/r/run_testthat.sh sets it): then the error fails the test.
skip_without_python <- function() {
  err <- tryCatch({ histkit::histkit_python(); NULL }, error = function(e) e)
  if (is.null(err)) return(invisible())
  if (nzchar(Sys.getenv("HISTKIT_TEST_REQUIRE_PYTHON"))) stop(err)
  # as in a built package checked outside a checkout: say what is missing, in a line
  why <- sub("[.] Point R at .*$", "", sub("^histkit: ", "", conditionMessage(err)))
  skip(paste0("needs the Python package histkit (set HISTKIT_PYTHON to a Python that has ",
              "it, such as a histkit checkout's .venv/bin/python): ", why))
}

METRICS <- c("background_dice", "loss", "scat_dice", "sdice", "vsat_dice")

# A smooth learning curve: losses fall, scores rise; validation is worse and
# slower, so training and validation stop at different epochs.
curve_value <- function(metric, epoch, val) {
  x <- exp(-epoch / if (val) 6 else 4)
  gap <- if (val) 0.05 else 0
  round(if (metric == "loss") x + gap else 1 - 0.9 * x - gap, 6)
}

# Write a history as Keras' CSVLogger does: 0-based epochs, columns sorted by
# name. `na` puts missing cells at list(column = epochs), written as `na_text`.
write_keras_csv <- function(path, epochs = 24, na = list(), na_text = "") {
  cols <- sort(c(METRICS, paste0("val_", METRICS)))
  rows <- vapply(seq_len(epochs) - 1L, function(e) {
    cells <- vapply(cols, function(c) {
      if (e %in% na[[c]]) return(na_text)
      sprintf("%.6f", curve_value(sub("^val_", "", c), e, startsWith(c, "val_")))
    }, "")
    paste(c(e, cells), collapse = ",")
  }, "")
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  writeLines(c(paste(c("epoch", cols), collapse = ","), rows), path)
  path
}

SEED_RUNS <- c(
  "run/2021-03-10/unet_2d_mdice/fat_768x384x1/unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24.csv",
  "run/2021-03-02/unet_2d_mdice/fat_768x384x1/unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR40.csv",
  "run/2021-03-01/unet_2d_mdice_ag/fat_768x384x1/unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24.csv",
  "run/2021-03-02/unet_2d_mdice_ag/fat_768x384x1/unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20.csv"
)

# The seed's run/ tree under a fresh temporary directory; returns the directory.
seed_tree <- function(epochs = c(24, 20, 24, 18)) {
  root <- tempfile("histkit-study-")
  for (i in seq_along(SEED_RUNS)) {
    write_keras_csv(file.path(root, SEED_RUNS[i]), epochs = epochs[i])
  }
  root
}

# the seed's own training_labels, evaluated from its verbatim copy (nothing
# else of the seed runs here)
training_labels_fixture <- local({
  env <- new.env()
  for (e in parse(test_path("seed_001.R"), keep.source = FALSE)) {
    if (is.call(e) && identical(e[[1]], as.name("<-")) &&
        identical(e[[2]], as.name("training_labels"))) eval(e, env)
  }
  stopifnot(length(env$training_labels) == 5)
  env$training_labels
})

read_quietly <- function(path) {
  readr::read_csv(path, show_col_types = FALSE, progress = FALSE)
}
