# The rule, written again in R: the first epoch within tol of the best.
reference_stop <- function(epoch, value, minimise, tol) {
  ok <- !is.na(value)
  epoch <- epoch[ok]; value <- value[ok]
  best <- if (minimise) min(value) else max(value)
  within <- if (minimise) value <= best + tol else value >= best - tol
  c(epoch = min(epoch[within]), best_epoch = min(epoch[value == best]))
}

test_that("early_stoppings finds the first epoch within the tolerance", {
  skip_without_python()
  path <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 24,
                          na = list(val_loss = 23))
  hist <- to_history(read_quietly(path))
  stops <- early_stoppings(hist, tolerance = 0.005)
  expect_identical(names(stops), c("metric", "data", "epoch", "value", "best_epoch",
                                   "best_value"))
  expect_identical(nrow(stops), 10L)
  expect_type(stops$epoch, "integer")
  expect_type(stops$best_epoch, "integer")
  expect_type(stops$value, "double")
  expect_identical(levels(stops$metric), levels(hist$metric))
  for (i in seq_len(nrow(stops))) {
    s <- hist[hist$metric == stops$metric[i] & hist$data == stops$data[i], ]
    ref <- reference_stop(s$epoch, s$value, stops$metric[i] == "loss", 0.005)
    expect_identical(stops$epoch[i], as.integer(ref[["epoch"]]))
    expect_identical(stops$best_epoch[i], as.integer(ref[["best_epoch"]]))
    expect_identical(stops$value[i], s$value[s$epoch == ref[["epoch"]]])
  }
  # validation is slower than training in the fixture
  loss <- stops[stops$metric == "loss", ]
  expect_lt(loss$epoch[loss$data == "training"], loss$epoch[loss$data == "validation"])
  # the missing last val_loss is skipped, not taken as the best
  expect_identical(loss$best_epoch[loss$data == "validation"], 22L)
})

test_that("the seed's pipe works and sorts by the history's metric order", {
  skip_without_python()
  library(dplyr, warn.conflicts = FALSE)
  hist <- to_history(read_quietly(write_keras_csv(file.path(tempfile(), "h.csv"))))
  out <- early_stoppings(hist, tolerance = 0.005) %>% arrange(metric, epoch)
  expect_identical(as.character(unique(out$metric)), METRICS)
  expect_identical(nrow(out), 10L)
  # character metric in, character metric out
  hist_chr <- mutate(hist, metric = as.character(metric), data = as.character(data))
  expect_type(early_stoppings(hist_chr)$metric, "character")
})

test_that("relative tolerance, mode and bad tolerances", {
  skip_without_python()
  hist <- to_history(data.frame(epoch = 0:3, acc = c(0.5, 0.89, 0.9, 0.91)))
  expect_identical(early_stoppings(hist, tolerance = 0.005)$epoch, 3L)
  expect_identical(early_stoppings(hist, tolerance = 0.025, relative = TRUE)$epoch, 1L)
  expect_identical(early_stoppings(hist, tolerance = 0.005, mode = c(acc = "min"))$epoch, 0L)
  expect_error(early_stoppings(hist, tolerance = -1), "tolerance must be a positive number")
  expect_error(early_stoppings(hist, tolerance = "a"), "tolerance must be one number")
  expect_error(early_stoppings(hist, mode = c(acc = "up")), "should be one of 'min', 'max'")
})

test_that("keras_stop replays EarlyStopping", {
  skip_without_python()
  wide <- data.frame(epoch = 0:5, val_loss = c(1, 0.8, 0.85, 0.9, 0.7, 0.95))
  s <- keras_stop(wide, monitor = "val_loss", patience = 2)
  expect_s3_class(s, "histkit_keras_stop")
  expect_true(s$stopped)
  expect_identical(s$stop_epoch, 3L)
  expect_identical(s$restore_epoch, 1L)
  expect_identical(s$best_value, 0.8)
  never <- keras_stop(wide, patience = 10)
  expect_false(never$stopped)
  expect_identical(never$stop_epoch, NA_integer_)
  expect_identical(never$restore_epoch, 4L)
  expect_output(print(s), "stops after epoch 3 and restores epoch 1")
  # the long table works too
  expect_identical(keras_stop(to_history(wide), patience = 2)$stop_epoch, 3L)
  expect_error(keras_stop(wide, monitor = "val_acc"), "monitor 'val_acc' is not in the history")
})
