# Benchmark: the seed's R workflow through histkit's R package (reticulate +
# the Python package) against a plain readr + tidyr + dplyr + ggplot2 script
# that draws the same figure. Each run is a fresh Rscript process, so each
# pays its own package loading; library(histkit) starts Python when
# HISTKIT_PYTHON (or the option) is set, so "process" holds that cost.
# HISTKIT_BENCH_REPEAT (default 3) runs of each, alternating; medians shown.
#
#   Rscript bench/r_vs_python.R            # run both, print the ratio
#   HISTKIT_PYTHON=.venv/bin/python Rscript bench/r_vs_python.R
#
# Reported: "steps" = read + to_history + early_stoppings + plot + ggsave,
# timed inside each process after the library() calls (for histkit, after
# Python has started); "process" = the whole Rscript, library() calls and
# Python start included. The target is a
# steps ratio under 1.5. Needs r-cran-tidyr for the plain script.

args <- commandArgs(trailingOnly = TRUE)

RUN <- "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24"
METRICS <- c("background_dice", "loss", "scat_dice", "sdice", "vsat_dice")

write_study <- function(root, epochs = 24) {
  path <- file.path(root, "run", "2021-03-10", "unet_2d_mdice", "fat_768x384x1",
                    paste0(RUN, ".csv"))
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  cols <- sort(c(METRICS, paste0("val_", METRICS)))
  rows <- vapply(seq_len(epochs) - 1L, function(e) {
    cells <- vapply(cols, function(c) {
      val <- startsWith(c, "val_")
      x <- exp(-e / if (val) 6 else 4)
      v <- if (sub("^val_", "", c) == "loss") x + 0.05 * val else 1 - 0.9 * x - 0.05 * val
      sprintf("%.6f", v)
    }, "")
    paste(c(e, cells), collapse = ",")
  }, "")
  writeLines(c(paste(c("epoch", cols), collapse = ","), rows), path)
  path
}

# the seed's training_labels, as the repository ships it
.bench_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(normalizePath(.bench_file)), "..", "pipelines", "labels.R"))

variant_histkit <- function(path, out) {
  suppressPackageStartupMessages({
    library(histkit); library(dplyr); library(patchwork)
  })
  t0 <- Sys.time()
  tb <- readr::read_csv(path, show_col_types = FALSE, progress = FALSE)
  hist <- to_history(tb)
  stops <- early_stoppings(hist, tolerance = 0.005) %>% arrange(metric, epoch)
  p <- plot_history(hist, lookup_table = training_labels, segments = stops, base_size = 12) +
    plot_annotation(title = "UNet", caption = RUN)
  ggplot2::ggsave(out, p, width = 10, height = 7, dpi = 150)
  as.double(Sys.time() - t0, units = "secs")
}

variant_plain <- function(path, out) {
  suppressPackageStartupMessages({
    library(readr); library(tidyr); library(dplyr); library(ggplot2); library(patchwork)
  })
  t0 <- Sys.time()
  tb <- read_csv(path, show_col_types = FALSE, progress = FALSE)
  hist <- tb %>%
    pivot_longer(-epoch, names_to = "column", values_to = "value") %>%
    mutate(data = factor(ifelse(startsWith(column, "val_"), "validation", "training"),
                         c("training", "validation")),
           metric = sub("^val_", "", column), epoch = as.integer(epoch)) %>%
    select(epoch, value, metric, data)
  loss_like <- function(m) {
    vapply(strsplit(tolower(m), "_"), function(t) {
      any(t %in% c("loss", "error", "mse", "mae", "rmse", "crossentropy"))
    }, logical(1))
  }
  stops <- hist %>%
    filter(!is.na(value)) %>%
    group_by(metric, data) %>%
    mutate(s = if_else(loss_like(metric), value, -value), best = min(s)) %>%
    summarise(best_epoch = min(epoch[s == best]), best_value = value[s == best][1],
              value = value[s <= best + 0.005][which.min(epoch[s <= best + 0.005])],
              epoch = min(epoch[s <= best + 0.005]), .groups = "drop") %>%
    select(metric, data, epoch, value, best_epoch, best_value) %>%
    arrange(metric, epoch)
  order <- c(names(training_labels)[names(training_labels) %in% hist$metric],
             setdiff(unique(hist$metric), names(training_labels)))
  labels <- ifelse(order %in% names(training_labels), training_labels[order], order)
  relabel <- function(m) factor(labels[match(m, order)], levels = unique(labels))
  p <- ggplot(filter(hist, !is.na(value)) %>% mutate(metric = relabel(metric)),
              aes(epoch, value, colour = data)) +
    geom_line() + geom_point(size = 1.5) +
    geom_vline(data = mutate(stops, metric = relabel(metric)),
               aes(xintercept = epoch, colour = data), linetype = "dashed",
               show.legend = FALSE) +
    facet_wrap(~metric, scales = "free_y") +
    labs(x = "epoch", colour = "data") +
    theme_bw(base_size = 12) +
    theme(axis.title.y = element_blank(), legend.position = "bottom") +
    plot_annotation(title = "UNet", caption = RUN)
  ggsave(out, p, width = 10, height = 7, dpi = 150)
  as.double(Sys.time() - t0, units = "secs")
}

if (length(args) == 3 && args[1] == "--variant") {
  # one variant in this process: print its step time
  f <- switch(args[2], histkit = variant_histkit, plain = variant_plain)
  cat(sprintf("%.4f\n", f(args[3], tempfile(fileext = ".png"))))
} else {
  if (!requireNamespace("tidyr", quietly = TRUE)) {
    stop("the plain script needs tidyr: apt-get install r-cran-tidyr", call. = FALSE)
  }
  self <- .bench_file
  path <- write_study(tempfile("histkit-bench-"))
  rscript <- file.path(R.home("bin"), "Rscript")
  run <- function(variant) {
    t0 <- Sys.time()
    out <- system2(rscript, c(self, "--variant", variant, path), stdout = TRUE)
    c(steps = as.double(tail(out, 1)), process = as.double(Sys.time() - t0, units = "secs"))
  }
  # fresh processes, alternating; the median of each (single runs vary by
  # +-0.2 s on a busy machine)
  reps <- as.integer(Sys.getenv("HISTKIT_BENCH_REPEAT", "3"))
  times <- lapply(seq_len(reps), function(i) list(plain = run("plain"), histkit = run("histkit")))
  med <- function(v) {
    m <- sapply(times, `[[`, v)
    c(steps = stats::median(m["steps", ]), process = stats::median(m["process", ]))
  }
  plain <- med("plain")
  hk <- med("histkit")
  cat(sprintf("median of %d fresh runs each\n", reps))
  cat(sprintf("%-28s %8s %8s\n", "", "steps s", "process s"))
  cat(sprintf("%-28s %8.3f %8.3f\n", "plain readr/tidyr/ggplot2", plain[["steps"]],
              plain[["process"]]))
  cat(sprintf("%-28s %8.3f %8.3f\n", "histkit (reticulate)", hk[["steps"]], hk[["process"]]))
  cat(sprintf("%-28s %8.2fx %7.2fx\n", "ratio histkit / plain", hk[["steps"]] / plain[["steps"]],
              hk[["process"]] / plain[["process"]]))
}
