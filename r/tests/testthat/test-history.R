test_that("to_history turns a readr tibble into the keras long table", {
  skip_without_python()
  path <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 5)
  tb <- read_quietly(path)
  expect_s3_class(tb, "tbl_df")
  hist <- to_history(tb)
  expect_identical(names(hist), c("epoch", "value", "metric", "data"))
  expect_type(hist$epoch, "integer")
  expect_type(hist$value, "double")
  expect_s3_class(hist$metric, "factor")
  # metrics in order of first appearance in the file, as R keras orders them
  expect_identical(levels(hist$metric), METRICS)
  expect_identical(levels(hist$data), c("training", "validation"))
  expect_identical(nrow(hist), 5L * 10L)
  # rows: metric, data (training first), epoch; the file's 0-based epochs kept
  expect_identical(hist$epoch[1:6], c(0:4, 0L))
  expect_identical(as.character(hist$data[1:6]), c(rep("training", 5), "validation"))
  loss_val <- hist[hist$metric == "loss" & hist$data == "validation", ]
  expect_equal(loss_val$value, tb$val_loss)
})

test_that("missing cells stay NA whatever the reader made of them", {
  skip_without_python()
  # empty cells: readr gives NA (a double NA: NaN in Python)
  p1 <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 4,
                        na = list(loss = 1, val_sdice = c(0, 3)))
  hist <- to_history(read_quietly(p1))
  expect_identical(sum(is.na(hist$value)), 3L)
  expect_true(is.na(hist$value[hist$metric == "loss" & hist$data == "training" &
                                 hist$epoch == 1L]))
  # "nan" cells as Keras writes them, read as text: still numbers with NA
  p2 <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 4,
                        na = list(loss = 2), na_text = "nan")
  tb <- readr::read_csv(p2, col_types = readr::cols(loss = "c", .default = "d"))
  expect_type(tb$loss, "character")
  hist2 <- to_history(tb)
  expect_type(hist2$value, "double")
  expect_identical(sum(is.na(hist2$value)), 1L)
  # integer NA (reticulate sends it as -2147483648) and a plain data.frame
  df <- data.frame(epoch = 1:3, loss = c(3L, NA, 1L), val_loss = c(0.5, NaN, 0.3))
  h3 <- to_history(df)
  expect_identical(h3$value, c(3, NA, 1, 0.5, NA, 0.3))
  expect_false(any(h3$value < -1e9, na.rm = TRUE))
})

test_that("a one-row history and a history without epoch column", {
  skip_without_python()
  one <- to_history(data.frame(epoch = 0, loss = 0.5))
  expect_identical(one$epoch, 0L)
  expect_identical(one$value, 0.5)
  no_epoch <- to_history(data.frame(loss = c(0.5, 0.4), val_loss = c(0.6, 0.5)))
  expect_identical(no_epoch$epoch, c(1L, 2L, 1L, 2L))
})

test_that("read_history gives the wide table and file errors name line and column", {
  skip_without_python()
  path <- write_keras_csv(file.path(tempfile(), "h.csv"), epochs = 3, na = list(loss = 1))
  wide <- read_history(path)
  expect_identical(names(wide), c("epoch", sort(c(METRICS, paste0("val_", METRICS)))))
  expect_identical(wide$epoch, 0:2)
  expect_true(is.na(wide$loss[2]))
  expect_identical(to_history(wide), to_history(read_quietly(path)))

  bad <- file.path(tempfile(), "bad.csv")
  dir.create(dirname(bad))
  writeLines(c("epoch,loss", "0,0.5", "1,oops"), bad)
  err <- expect_error(read_history(bad), class = "error")
  expect_match(conditionMessage(err), "bad.csv:3 \\(column 'loss'\\): non-numeric value 'oops'")
  expect_false(grepl("Traceback|py_last_error", conditionMessage(err)))
  expect_null(conditionCall(err))
})

test_that("non-numeric metric columns are rejected with the column's name", {
  skip_without_python()
  expect_error(to_history(data.frame(epoch = 0:1, loss = c("a", "b"))),
               "column 'loss' is not numeric")
  expect_error(to_history(list(epoch = 1)), "must be a data.frame or tibble")
})
