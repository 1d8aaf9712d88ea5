fixture_hist <- function(epochs = 12) {
  to_history(read_quietly(write_keras_csv(file.path(tempfile(), "h.csv"), epochs = epochs,
                                          na = list(sdice = 3))))
}

test_that("facets follow the lookup (names kept on the way to Python)", {
  skip_without_python()
  hist <- fixture_hist()
  p <- plot_history(hist, lookup_table = training_labels_fixture, base_size = 12)
  expect_s3_class(p, "ggplot")
  expect_identical(levels(p$data$metric), unname(training_labels_fixture))
  built <- ggplot2::ggplot_build(p)
  expect_identical(as.character(built$layout$layout$metric), unname(training_labels_fixture))
  # a partial lookup: exactly its metrics, in its order (the seed's "These 5 plots")
  p2 <- plot_history(hist, lookup_table = c(sdice = "Dice", loss = "Loss"))
  expect_identical(levels(p2$data$metric), c("Dice", "Loss"))
  # no lookup: file order
  expect_identical(levels(plot_history(hist)$data$metric), METRICS)
  # a labels file, parsed (never evaluated) by the Python package
  labels_r <- tempfile(fileext = ".R")
  writeLines('training_labels <- c(vsat_dice = "VAT", loss = "Loss")', labels_r)
  expect_identical(levels(plot_history(hist, lookup_table = labels_r)$data$metric)[1:2],
                   c("VAT", "Loss"))
  expect_error(plot_history(hist, lookup_table = c("Loss", "Dice")),
               "lookup_table must be a named character vector")
})

test_that("the layout is the Python figure's", {
  skip_without_python()
  hist <- fixture_hist()
  stops <- early_stoppings(hist, tolerance = 0.005)
  p <- plot_history(hist, lookup_table = training_labels_fixture, segments = stops,
                    base_size = 12)
  geoms <- vapply(p$layers, function(l) class(l$geom)[1], "")
  expect_identical(geoms, c("GeomLine", "GeomPoint", "GeomVline"))
  expect_identical(p$layers[[2]]$aes_params$size, 1.5)
  expect_identical(p$layers[[3]]$aes_params$linetype, "dashed")
  expect_false(p$layers[[3]]$show.legend)
  expect_identical(nrow(p$layers[[3]]$data), 10L)
  expect_s3_class(p$facet, "FacetWrap")
  expect_true(p$facet$params$free$y)
  expect_false(p$facet$params$free$x)
  expect_identical(p$labels$colour, "data")
  expect_identical(p$labels$y, "value")
  expect_identical(p$theme$text$size, 12)
  expect_identical(p$theme$legend.position, "bottom")
  expect_s3_class(p$theme$axis.title.y, "element_blank")
  expect_identical(p$labels$x, "epoch")
  # stop lines sit at the stop epochs, coloured by their series
  built <- ggplot2::ggplot_build(p)
  vl <- built$data[[3]]
  pts <- built$data[[2]]
  expect_setequal(vl$xintercept, stops$epoch)
  expect_setequal(unique(vl$colour), unique(pts$colour))
  # the NA cell is dropped, not drawn
  expect_identical(nrow(pts), sum(!is.na(hist$value)))
})

test_that("ggplot2 and patchwork additions work; wide input; errors", {
  skip_without_python()
  hist <- fixture_hist()
  p <- plot_history(hist, training_labels_fixture) +
    patchwork::plot_annotation(title = "T", subtitle = "S", caption = "C")
  expect_s3_class(p, "patchwork")
  expect_identical(p$patches$annotation$title, "T")
  out <- tempfile(fileext = ".png")
  ggplot2::ggsave(out, p, width = 8, height = 6, dpi = 50)
  expect_gt(file.size(out), 1000)
  p2 <- plot_history(hist) + ggplot2::labs(title = "x") + ggplot2::theme_minimal()
  expect_identical(p2$labels$title, "x")
  wide <- read_quietly(write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 5))
  expect_identical(levels(plot_history(wide, metrics = c("loss", "sdice"))$data$metric),
                   c("loss", "sdice"))
  expect_error(plot_history(hist, metrics = "acc"), "metric 'acc' is not in the history")
  expect_error(plot_history(hist, segments = data.frame(epoch = 1)),
               "segments need the columns metric, data and epoch")
})
