# seeds/001: the R workflow must run unchanged after library(histkit);
# library(dplyr); library(patchwork), from a directory holding the study's
# run/ tree. seed_001.R holds the seed's R lines verbatim; each top-level
# expression is evaluated and its visible value printed, as at the console.
test_that("the seed's R code runs verbatim and draws its four figures", {
  skip_without_python()
  seed <- parse(test_path("seed_001.R"), keep.source = FALSE)
  root <- seed_tree(epochs = c(24, 20, 24, 18))
  old <- setwd(root)
  on.exit(setwd(old), add = TRUE)
  env <- new.env(parent = globalenv())
  eval(quote({ library(histkit); library(dplyr); library(patchwork) }), env)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  shown <- list()
  for (expr in seed) {
    res <- suppressMessages(withVisible(eval(expr, env)))
    if (res$visible) {
      utils::capture.output(print(res$value))  # draws the figures, as the console would
      shown[[length(shown) + 1]] <- res$value
    }
  }
  # the stop table of the first run, then four figures
  expect_length(shown, 5)
  stops <- shown[[1]]
  expect_s3_class(stops, "data.frame")
  expect_identical(nrow(stops), 10L)
  expect_identical(as.character(unique(stops$metric)), METRICS)
  figures <- shown[-1]
  for (f in figures) {
    expect_s3_class(f, "patchwork")
    expect_identical(levels(f$data$metric), unname(env$training_labels))
  }
  expect_identical(figures[[3]]$theme$text$size, 14)
  expect_identical(figures[[1]]$theme$text$size, 12)
  expect_identical(figures[[3]]$patches$annotation$caption, SEED_RUNS[3])
  expect_identical(nrow(env$hist), 20L * 10L)  # the DR40 run logged 20 epochs
  expect_identical(nrow(env$hist_ag), 18L * 10L)
})
