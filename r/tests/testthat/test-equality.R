# R and Python give identical stop tables and run-name fields on the same
# files: the Python side here is the `histkit` command in its own process.
python_cli <- function(args, wd) {
  py <- histkit_python()$python
  old <- setwd(wd)
  on.exit(setwd(old))
  out <- suppressWarnings(system2(py, c("-m", "histkit", args), stdout = TRUE, stderr = FALSE))
  # every column as text: the conversions below are the test's, not readr's guesses
  readr::read_csv(I(paste(out, collapse = "\n")), col_types = readr::cols(.default = "c"),
                  na = "", progress = FALSE)
}

test_that("stop tables are identical in R and Python", {
  skip_without_python()
  root <- seed_tree(epochs = c(24, 20, 24, 18))
  file.copy(write_keras_csv(tempfile(fileext = ".csv"), epochs = 15,
                            na = list(val_loss = c(4, 14), sdice = 0)),
            file.path(root, dirname(SEED_RUNS[1]),
                      "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_x1.csv"))
  py <- python_cli(c("stops", "run", "--tolerance", "0.005", "--format", "csv"), root)
  files <- list.files(file.path(root, "run"), pattern = "[.]csv$", recursive = TRUE)
  expect_length(files, 5)
  for (f in files) {
    tb <- read_quietly(file.path(root, "run", f))
    r <- early_stoppings(to_history(tb), tolerance = 0.005)
    run <- sub("[.]csv$", "", basename(f))
    p <- py[py$run == run, c("metric", "data", "epoch", "value", "best_epoch", "best_value")]
    r <- r[order(as.character(r$metric), r$epoch, method = "radix"), ]
    expect_identical(as.character(r$metric), p$metric, info = f)
    expect_identical(as.character(r$data), p$data, info = f)
    expect_identical(r$epoch, as.integer(p$epoch), info = f)
    expect_identical(r$best_epoch, as.integer(p$best_epoch), info = f)
    expect_identical(r$value, as.double(p$value), info = f)
    expect_identical(r$best_value, as.double(p$best_value), info = f)
  }
})

test_that("run-name fields are identical in R and Python", {
  skip_without_python()
  root <- seed_tree()
  py <- python_cli(c("runs", "run", "--format", "csv"), root)
  r <- parse_run_name(py$path)
  expect_identical(nrow(r), 4L)
  for (field in c("date", "model", "dim", "loss", "optimizer", "dataset")) {
    expect_identical(r[[field]], py[[field]], info = field)
  }
  for (field in c("height", "width", "channels", "n_train", "epochs", "levels",
                  "base_filters")) {
    expect_identical(r[[field]], as.integer(py[[field]]), info = field)
  }
  expect_identical(r$attention, py$attention == "true")
  expect_identical(r$dropout, as.double(py$dropout))
  expect_identical(r$name, py$run)
  # and runs() itself agrees with the command
  tab <- runs(file.path(root, "run"))
  tab <- tab[match(sub("^run/", "", py$path), sub(".*/run/", "", tab$path)), ]
  expect_identical(tab$stop_val_loss_epoch, as.integer(py$stop_val_loss_epoch))
  expect_identical(tab$best_val_loss, as.double(py$best_val_loss))
})
