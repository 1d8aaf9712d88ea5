library(testthat)
library(histkit)

test_check("histkit")
