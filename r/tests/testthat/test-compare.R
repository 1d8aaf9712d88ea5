test_that("compare_runs() gives paired effects that runs() confirms", {
  skip_without_python()
  root <- seed_tree()
  cmp <- compare_runs(file.path(root, "run"), metric = "loss")
  expect_identical(cmp$metric, "val_loss")
  expect_false(cmp$higher_is_better)
  expect_true(grepl("paired effects", cmp$method))
  expect_setequal(cmp$importance$factor, c("attention", "dropout"))
  # attention true vs false: the one pair that differs in attention alone (no dropout)
  tab <- runs(file.path(root, "run"))
  best <- function(att, dr) tab$best_val_loss[tab$attention == att & tab$dropout == dr]
  att <- cmp$effects[cmp$effects$factor == "attention", ]
  expect_identical(att$pairs, 1L)
  expect_equal(att$mean_diff, best(TRUE, 0) - best(FALSE, 0))
  expect_true(is.na(att$std_diff))
  # dropout 0.2 exists with attention only, 0.4 without: the importance says so
  dr <- cmp$importance[cmp$importance$factor == "dropout", ]
  expect_match(dr$confounded_with, "attention")
  lv <- cmp$levels[cmp$levels$factor == "dropout", ]
  expect_identical(lv$level, c("0.0", "0.2", "0.4"))
  expect_identical(lv$runs, c(2L, 1L, 1L))
})

test_that("compare_runs() refuses a metric the runs do not have, in one line", {
  skip_without_python()
  root <- seed_tree()
  expect_error(compare_runs(file.path(root, "run"), metric = "iou"),
               "no series 'iou' in these runs")
})
