# Telemetry (learning rate, epoch time, memory, step counters) is no metric:
# no facet in plot_history(), no row in early_stoppings(), its own figure in
# plot_telemetry(). The Python package decides which series are telemetry.

# loss, sdice and their val_ twins, plus the trainer's telemetry
telemetry_wide <- function(epochs = 8) {
  e <- seq_len(epochs) - 1L
  data.frame(
    epoch = e,
    loss = 1 / (e + 1), val_loss = 1.1 / (e + 1),
    sdice = 1 - 1 / (e + 2), val_sdice = 0.95 - 1 / (e + 2),
    lr = 0.1 * 0.5^e, epoch_time_s = 30 + e %% 3, peak_mem_mb = 1000 + 10 * e
  )
}

# the seed's five metrics (Keras CSVLogger fixture), one metric the seed's
# lookup does not list (iou), and telemetry
seed_wide_with_telemetry <- function(epochs = 10) {
  wide <- read_quietly(write_keras_csv(file.path(tempfile(), "h.csv"), epochs = epochs))
  wide$iou <- seq(0.2, 0.8, length.out = epochs)
  wide$val_iou <- wide$iou - 0.05
  wide$lr <- 1 / (wide$epoch + 1)
  wide$epoch_time_s <- 12.5
  wide$peak_mem_mb <- 2048
  wide
}

facet_names <- function(p) {
  as.character(ggplot2::ggplot_build(p)$layout$layout$metric)
}

TELEMETRY <- c("lr", "epoch_time_s", "peak_mem_mb")

test_that("telemetry is no facet of the default figure", {
  skip_without_python()
  hist <- to_history(telemetry_wide())
  expect_identical(levels(hist$metric), c("loss", "sdice", TELEMETRY))  # kept in the table
  p <- plot_history(hist)
  expect_identical(facet_names(p), c("loss", "sdice"))
  expect_false(any(as.character(p$data$metric) %in% TELEMETRY))
  # wide input too, and stop lines of the metrics only
  p2 <- plot_history(telemetry_wide(), segments = early_stoppings(hist))
  expect_identical(facet_names(p2), c("loss", "sdice"))
  expect_identical(nrow(p2$layers[[3]]$data), 4L)
  # a lookup that names telemetry still draws no telemetry facet
  p3 <- plot_history(hist, lookup_table = c(lr = "Learning rate", sdice = "Dice",
                                            loss = "Loss"))
  expect_identical(facet_names(p3), c("Dice", "Loss"))
})

test_that("the seed's lookup draws exactly its five facets; all_metrics adds the rest", {
  skip_without_python()
  hist <- to_history(seed_wide_with_telemetry())
  labels <- unname(training_labels_fixture)
  p <- plot_history(hist, lookup_table = training_labels_fixture)
  expect_identical(facet_names(p), labels)
  expect_identical(levels(p$data$metric), labels)
  all <- plot_history(hist, lookup_table = training_labels_fixture, all_metrics = TRUE)
  expect_identical(facet_names(all), c(labels, "iou"))  # telemetry still left out
  # without a lookup: every metric, in file order (the CSVLogger sorts by name)
  expect_identical(facet_names(plot_history(hist)), c(METRICS, "iou"))
  expect_identical(facet_names(plot_history(hist, all_metrics = TRUE)), c(METRICS, "iou"))
  expect_error(plot_history(hist, all_metrics = NA), "all_metrics must be TRUE or FALSE")
})

test_that("a user's telemetry is no facet either; metrics = draws telemetry by name", {
  skip_without_python()
  hist <- to_history(seed_wide_with_telemetry())
  expect_identical(facet_names(plot_history(hist, telemetry = "iou")), METRICS)
  expect_identical(
    facet_names(plot_history(hist, telemetry = c("iou", "scat_dice"))),
    setdiff(METRICS, "scat_dice"))
  expect_identical(facet_names(plot_history(hist, telemetry = "iou,scat_dice")),
                   setdiff(METRICS, "scat_dice"))
  expect_identical(
    facet_names(plot_history(hist, lookup_table = training_labels_fixture,
                             all_metrics = TRUE, telemetry = "iou")),
    unname(training_labels_fixture))
  # named in metrics =, as in Python: drawn, lookup metrics first, then the others
  expect_identical(facet_names(plot_history(hist, metrics = c("lr", "loss"))),
                   c("loss", "lr"))
  expect_identical(
    facet_names(plot_history(hist, lookup_table = training_labels_fixture,
                             metrics = c("lr", "sdice", "loss"))),
    c(unname(training_labels_fixture[c("loss", "sdice")]), "lr"))
  expect_error(plot_history(hist, metrics = "acc"), "metric 'acc' is not in the history")
  expect_error(plot_history(hist, telemetry = 1), "telemetry must be a character vector")
  # nothing but telemetry: Python's one-line error
  only <- to_history(data.frame(epoch = 0:2, lr = c(0.1, 0.05, 0.01)))
  expect_error(plot_history(only), "nothing to plot: the history has no metric rows")
})

test_that("early_stoppings gives telemetry no stop, built-in or the user's", {
  skip_without_python()
  hist <- to_history(telemetry_wide())
  stops <- early_stoppings(hist, tolerance = 0.005)
  expect_identical(as.character(stops$metric), c("loss", "loss", "sdice", "sdice"))
  expect_false(any(as.character(stops$metric) %in% TELEMETRY))
  expect_identical(levels(stops$metric), levels(hist$metric))
  # the wide table too
  expect_identical(as.character(early_stoppings(telemetry_wide())$metric),
                   as.character(stops$metric))
  user <- early_stoppings(hist, tolerance = 0.005, telemetry = "sdice")
  expect_identical(as.character(user$metric), c("loss", "loss"))
  expect_identical(user, stops[stops$metric == "loss", ], ignore_attr = TRUE)
  expect_identical(nrow(early_stoppings(hist, telemetry = c("sdice", "loss"))), 0L)
  expect_error(early_stoppings(hist, telemetry = list("sdice")),
               "telemetry must be a character vector")
})

test_that("plot_telemetry draws one free-y facet per telemetry series", {
  skip_without_python()
  hist <- to_history(telemetry_wide())
  p <- plot_telemetry(hist, base_size = 13)
  expect_s3_class(p, "ggplot")
  expect_identical(facet_names(p), TELEMETRY)
  expect_identical(levels(p$data$metric), TELEMETRY)
  expect_identical(nrow(p$data), 3L * 8L)
  geoms <- vapply(p$layers, function(l) class(l$geom)[1], "")
  expect_identical(geoms, c("GeomLine", "GeomPoint"))
  expect_identical(p$layers[[2]]$aes_params$size, 1)
  expect_s3_class(p$facet, "FacetWrap")
  expect_true(p$facet$params$free$y)
  expect_false(p$facet$params$free$x)
  expect_identical(p$labels$x, "epoch")
  expect_identical(p$labels$colour, "data")
  expect_identical(p$theme$text$size, 13)
  expect_identical(p$theme$legend.position, "bottom")
  expect_s3_class(p$theme$axis.title.y, "element_blank")
  # a user's telemetry joins, in file order; the wide table works; additions work
  expect_identical(facet_names(plot_telemetry(telemetry_wide(), telemetry = "sdice")),
                   c("sdice", TELEMETRY))
  annotated <- plot_telemetry(hist) + patchwork::plot_annotation(title = "T")
  expect_s3_class(annotated, "patchwork")
  out <- tempfile(fileext = ".png")
  ggplot2::ggsave(out, annotated, width = 6, height = 4, dpi = 40)
  expect_gt(file.size(out), 1000)
})

test_that("plot_telemetry stops cleanly when there is no telemetry", {
  skip_without_python()
  hist <- to_history(read_quietly(write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 4)))
  err <- expect_error(plot_telemetry(hist), "the history has no telemetry")
  expect_null(conditionCall(err))
  # a telemetry series with no value is none either
  empty <- to_history(data.frame(epoch = 0:1, loss = c(1, 0.5), lr = c(NA_real_, NA_real_)))
  expect_error(plot_telemetry(empty), "the history has no telemetry")
})

# the framework-written fixtures of the Python tests, from r/tests/testthat
source_fixture <- function(...) {
  path <- test_path("..", "..", "..", "tests", "fixtures", "sources", ...)
  if (!file.exists(path)) {
    if (nzchar(Sys.getenv("HISTKIT_TEST_REQUIRE_PYTHON"))) stop("missing fixture ", path)
    skip(paste("needs a histkit checkout's tests/fixtures/sources (the built package",
               "does not carry them); not found:", path))
  }
  path
}

test_that("read_history reads other sources and source = forces a reader", {
  skip_without_python()
  json <- source_fixture("keras", "history.json")
  forced <- read_history(json, source = "keras")
  expect_identical(names(forced), c("epoch", "accuracy", "loss", "val_accuracy", "val_loss"))
  expect_identical(forced$epoch, seq_len(nrow(forced)))  # history.history JSON: from 1
  expect_identical(forced, read_history(json))
  # fastai's history.csv is recognised; forced through the Keras CSV reader its
  # mm:ss time column is a bad cell, so the source does reach Python's reader
  fastai <- source_fixture("fastai", "history.csv")
  expect_identical(names(read_history(fastai)),
                   c("epoch", "loss", "val_loss", "val_accuracy", "time"))
  expect_error(read_history(fastai, source = "keras"),
               "history.csv:2 \\(column 'time'\\): non-numeric value '00:00'")
})

test_that("a wrong source name is Python's one-line error", {
  skip_without_python()
  json <- source_fixture("keras", "history.json")
  err <- expect_error(read_history(json, source = "kerass"), class = "error")
  msg <- conditionMessage(err)
  expect_match(msg, "^histkit: .*should be one of keras, lightning, tensorboard.*got 'kerass'$")
  expect_false(grepl("\n", msg, fixed = TRUE))
  expect_false(grepl("Traceback|py_last_error", msg))
  expect_null(conditionCall(err))
  expect_error(read_history(json, source = c("keras", "fastai")),
               "source must be NULL or one reader name")
})
