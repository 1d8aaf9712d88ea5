test_that("parse_run_name gives typed fields; a path adds its date", {
  skip_without_python()
  r <- parse_run_name(c("unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20",
                        SEED_RUNS[2]))
  expect_identical(nrow(r), 2L)
  expect_identical(r$model, c("unet", "unet"))
  expect_identical(r$attention, c(TRUE, FALSE))
  expect_identical(r$height, c(768L, 768L))
  expect_identical(r$n_train, c(204L, 204L))
  expect_identical(r$dropout, c(0.2, 0.4))
  expect_identical(r$date, c(NA, "2021-03-02"))
  expect_identical(r$name[2], "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR40")
  expect_identical(r$valid, c(TRUE, TRUE))
  one <- parse_run_name("linknet_2d_bce25dice75_Adam_fat_256x128x1_N96_E10_L3_FBL8_x1")
  expect_identical(one$loss, "bce25dice75")
  expect_identical(one$extra, "x1")
  expect_identical(one$dropout, 0)
  # batch size, learning rate and seed: NA and 0 without their tokens
  expect_identical(r$batch_size, c(NA_integer_, NA_integer_))
  expect_identical(r$lr, c(NA_real_, NA_real_))
  expect_identical(r$seed, c(0L, 0L))
  sweep <- parse_run_name("unet_2d_ce_Adam_fat_64x64x1_N32_E20_L3_FBL8_BS8_LR5e-2_S1")
  expect_identical(c(sweep$batch_size, sweep$seed), c(8L, 1L))
  expect_identical(sweep$lr, 0.05)
})

test_that("a name outside the grammar warns (or fails with strict) in R terms", {
  skip_without_python()
  expect_warning(bad <- parse_run_name("final_model"), "does not follow the grammar")
  expect_false(bad$valid)
  expect_true(is.na(bad$model))
  expect_true(is.na(bad$height))
  expect_type(bad$height, "integer")
  err <- expect_error(parse_run_name("final_model", strict = TRUE), "does not follow")
  expect_null(conditionCall(err))
})

test_that("runs() lists a run/ tree, problems kept", {
  skip_without_python()
  root <- seed_tree(epochs = c(24, 20, 24, 18))
  broken <- "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR10.csv"
  writeLines("epoch,loss\n0,oops", file.path(root, "run", broken))
  expect_warning(tab <- runs(file.path(root, "run")), "DR10.csv:2 \\(column 'loss'\\)")
  expect_identical(nrow(tab), 5L)
  expect_match(attr(tab, "problems"), "non-numeric value 'oops'")
  expect_identical(tab$epochs_logged[tab$dropout == 0.1], 0L)
  good <- tab[tab$epochs_logged > 0, ]
  expect_setequal(good$epochs_logged, c(24L, 20L, 24L, 18L))
  expect_setequal(good$dropout, c(0, 0.4, 0, 0.2))
  expect_type(good$stop_val_loss_epoch, "integer")
})

test_that("histkit_report() builds the report", {
  skip_without_python()
  root <- seed_tree(epochs = c(6, 5, 6, 5))
  out <- file.path(tempfile(), "report")
  rep <- histkit_report(file.path(root, "run"), out, labels = training_labels_fixture,
                        jobs = 1, dpi = 30)
  expect_true(file.exists(rep$index))
  expect_length(rep$rendered, 4)
  expect_identical(nrow(rep$summary), 4L)
  expect_length(rep$problems, 0)
  again <- histkit_report(file.path(root, "run"), out, labels = training_labels_fixture,
                          jobs = 1, dpi = 30)
  expect_length(again$rendered, 0)  # incremental
  fewer <- histkit_report(file.path(root, "run"), out, labels = training_labels_fixture,
                          jobs = 1, dpi = 30, pages = 2)
  expect_length(fewer$shown, 2)  # the best run and the next, each still in the summary
  expect_identical(nrow(fewer$summary), 4L)
  expect_length(fewer$removed, 2)
  expect_error(histkit_report(file.path(root, "run"), out, pages = "all"),
               "pages must be one number")
})
