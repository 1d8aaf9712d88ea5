#' Plot a training history
#'
#' Draws one run the way the Python package's `plot_history()` does, natively
#' with ggplot2: x epoch, y value, colour by data (training, validation),
#' lines and points, one facet per metric with a free y scale, labelled and
#' ordered by `lookup_table`, `theme_bw(base_size)` with the legend at the
#' bottom, and a dashed vertical line per segment (early stop) coloured like
#' its series.
#'
#' With a lookup the figure has exactly the lookup's metrics that the history
#' holds, in the lookup's order (the seed's "These 5 plots");
#' `all_metrics = TRUE` adds the others after them, in file order, under
#' their own names. Without a lookup it has every metric, in file order.
#' Telemetry (learning rate, epoch time, memory, step counters: `lr`,
#' `learning_rate`, `epoch_time_s`, `time`, `peak_mem_mb`, `step`, ...,
#' plus the names in `telemetry`) is never a facet here: draw it with
#' [plot_telemetry()]. The Python package decides the facets, so R and
#' Python draw the same ones.
#'
#' The result is a plain ggplot object: add titles with
#' `+ patchwork::plot_annotation(title = ...)` or `+ ggplot2::labs(...)`,
#' themes, scales, or save it with `ggplot2::ggsave()`.
#'
#' @param hist A history: the long table of [to_history()] or a wide one.
#' @param lookup_table Labels: a named character vector
#'   `c(loss = "Loss", sdice = "Dice Score")` (the facets are its metrics, in
#'   its order), or the path of a `.R`, `.json` or `.toml` labels file, or
#'   `NULL`.
#' @param segments `NULL` or a data.frame with columns `metric`, `data` and
#'   `epoch`, such as [early_stoppings()] returns.
#' @param base_size Base font size of `theme_bw()`.
#' @param ... Further arguments of [ggplot2::theme_bw()] (`base_family`,
#'   `base_line_size`, ...).
#' @param metrics `NULL` or exactly the series to draw, e.g.
#'   `c("loss", "sdice")`; named here, a telemetry series is drawn too, and
#'   lookup metrics come first, then the others (as with `all_metrics`).
#' @param points,lines Draw points, lines.
#' @param all_metrics With a lookup, also draw the metrics it does not list,
#'   after its own.
#' @param telemetry More series that are telemetry, not metrics (besides the
#'   built-in ones), e.g. `c("gpu_temp", "tokens_seen")` or
#'   `"gpu_temp,tokens_seen"`.
#' @return A ggplot object.
#' @seealso [plot_telemetry()], [early_stoppings()]
#' @examples
#' \dontrun{
#' plot_history(hist, lookup_table = training_labels,
#'              segments = early_stoppings(hist, tolerance = 0.005), base_size = 12) +
#'   patchwork::plot_annotation(title = "UNet")
#' plot_history(hist, lookup_table = training_labels, all_metrics = TRUE)
#' }
#' @export
plot_history <- function(hist, lookup_table = NULL, segments = NULL, base_size = 11, ...,
                         metrics = NULL, points = TRUE, lines = TRUE, all_metrics = FALSE,
                         telemetry = character()) {
  .check_number(base_size, "base_size")
  .check_flag(all_metrics, "all_metrics")
  chosen <- .check_names(metrics, "metrics", null_ok = TRUE)
  telemetry <- .check_names(telemetry, "telemetry")
  long <- .as_long(hist)
  # Python decides the facets, as its plot_history() does: telemetry left
  # out unless named in `metrics`, the lookup's metrics, then (all_metrics)
  # the rest; an unknown metric or nothing left to draw is its one-line error
  facets <- .py_call("facet_levels", as.list(unique(as.character(long$metric))),
                     .encode_lookup(lookup_table), all_metrics, telemetry, chosen)
  .build_plot(long, segments, unlist(facets$order), unlist(facets$labels), base_size,
              points = points, lines = lines, ...)
}

#' Plot the telemetry of a training history
#'
#' Draws what [plot_history()] leaves out, the way the Python package's
#' `plot_telemetry()` does: the learning rate schedule, time and memory per
#' epoch, step counters (the series the Python package counts as telemetry,
#' plus the names in `telemetry`), one facet per series with a free y scale,
#' under their own names in file order; x epoch, colour by data, lines and
#' points, `theme_bw(base_size)` with the legend at the bottom. A native
#' ggplot2 object: any ggplot2 or patchwork addition works.
#'
#' @param hist A history: the long table of [to_history()] or a wide one.
#' @param base_size Base font size of `theme_bw()`.
#' @param telemetry More series that are telemetry (besides the built-in
#'   ones), as in [plot_history()].
#' @return A ggplot object. An error when the history has no telemetry.
#' @seealso [plot_history()]
#' @examples
#' \dontrun{
#' plot_telemetry(hist) + patchwork::plot_annotation(title = "Learning rate, time, memory")
#' }
#' @export
plot_telemetry <- function(hist, base_size = 11, telemetry = character()) {
  .check_number(base_size, "base_size")
  telemetry <- .check_names(telemetry, "telemetry")
  long <- .as_long(hist)
  long <- long[!is.na(long$value), , drop = FALSE]
  names <- unlist(.py_call("telemetry_names", as.list(unique(as.character(long$metric))),
                           telemetry))
  if (!length(names)) {
    stop("histkit: the history has no telemetry (learning rate, epoch time, memory)",
         call. = FALSE)
  }
  df <- .label_metrics(long, names, names)
  ggplot2::ggplot(df, ggplot2::aes(x = .data$epoch, y = .data$value, colour = .data$data)) +
    ggplot2::geom_line() +
    ggplot2::geom_point(size = 1) +
    ggplot2::facet_wrap(~metric, scales = "free_y") +
    ggplot2::labs(x = "epoch", colour = "data") +
    .theme(base_size)
}

# The long table of a history, without a round trip to Python when it is
# long already.
.as_long <- function(hist) {
  if (!is.data.frame(hist)) {
    stop(sprintf("histkit: hist must be a data.frame or tibble, not %s",
                 paste(class(hist), collapse = "/")), call. = FALSE)
  }
  if (all(c("epoch", "value", "metric", "data") %in% names(hist))) {
    return(as.data.frame(hist))
  }
  to_history(hist)
}

# metric as a factor of labels in facet order; rows of other metrics dropped.
.label_metrics <- function(df, order, labels) {
  df <- df[as.character(df$metric) %in% order, , drop = FALSE]
  df$metric <- factor(labels[match(as.character(df$metric), order)],
                      levels = unique(labels))
  df
}

# The figure from tables whose facet order and labels are already decided
# (by Python's facet_levels). Needs no Python: the rpy2 bridge calls it.
.build_plot <- function(long, segments, order, labels, base_size = 11, points = TRUE,
                        lines = TRUE, ...) {
  df <- .label_metrics(long[!is.na(long$value), , drop = FALSE], order, labels)
  p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$epoch, y = .data$value,
                                        colour = .data$data))
  if (lines) {
    p <- p + ggplot2::geom_line()
  }
  if (points) {
    p <- p + ggplot2::geom_point(size = 1.5)
  }
  if (!is.null(segments)) {
    if (!is.data.frame(segments) || !all(c("metric", "data", "epoch") %in% names(segments))) {
      stop(paste("histkit: segments need the columns metric, data and epoch",
                 "(as early_stoppings() returns them)"), call. = FALSE)
    }
    seg <- as.data.frame(segments)[, c("metric", "data", "epoch")]
    seg <- .label_metrics(seg[stats::complete.cases(seg), , drop = FALSE], order, labels)
    if (nrow(seg)) {
      p <- p + ggplot2::geom_vline(
        data = seg, ggplot2::aes(xintercept = .data$epoch, colour = .data$data),
        linetype = "dashed", show.legend = FALSE
      )
    }
  }
  p + ggplot2::facet_wrap(~metric, scales = "free_y") +
    ggplot2::labs(x = "epoch", colour = "data") +
    .theme(base_size, ...)
}

# theme_bw(base_size), no y title, legend at the bottom (the Python _theme()).
.theme <- function(base_size, ...) {
  ggplot2::theme_bw(base_size = base_size, ...) +
    ggplot2::theme(axis.title.y = ggplot2::element_blank(), legend.position = "bottom")
}

# Size that fits the facet grid, as the Python package's save_plot() picks it.
.default_size <- function(n_facets) {
  ncol <- ceiling(sqrt(n_facets))
  c(width = 3.2 * ncol + 1.2, height = 2.6 * ceiling(n_facets / ncol) + 1.6)
}

# Draw and save one figure from plain tables; the rpy2 bridge
# (histkit/render/r_plot.py, `histkit plot --engine r`) calls this in an R embedded
# in Python, so it must not start Python itself.
.render_frames <- function(long, segments, order, labels, base_size = 11, title = NULL,
                           subtitle = NULL, caption = NULL, path, width = NULL,
                           height = NULL, dpi = 150) {
  p <- .build_plot(long, segments, order, labels, base_size)
  annotate <- !is.null(title) || !is.null(subtitle) || !is.null(caption)
  if (annotate && requireNamespace("patchwork", quietly = TRUE)) {
    p <- p + patchwork::plot_annotation(title = title, subtitle = subtitle, caption = caption)
  } else if (annotate) {
    p <- p + ggplot2::labs(title = title, subtitle = subtitle, caption = caption)
  }
  size <- .default_size(length(unique(labels)))
  ggplot2::ggsave(path, p, width = if (is.null(width)) size[["width"]] else width,
                  height = if (is.null(height)) size[["height"]] else height,
                  dpi = dpi, units = "in")
  invisible(path)
}
