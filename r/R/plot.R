#' Plot a training history
#'
#' Draws one run the way the Python package's `plot_history()` does, natively
#' with ggplot2: x epoch, y value, colour by data (training, validation),
#' lines and points, one facet per metric with a free y scale, labelled and
#' ordered by `lookup_table` (unlisted metrics follow in file order under
#' their own names), `theme_bw(base_size)` with the legend at the bottom, and
#' a dashed vertical line per segment (early stop) coloured like its series.
#'
#' The result is a plain ggplot object: add titles with
#' `+ patchwork::plot_annotation(title = ...)` or `+ ggplot2::labs(...)`,
#' themes, scales, or save it with `ggplot2::ggsave()`.
#'
#' @param hist A history: the long table of [to_history()] or a wide one.
#' @param lookup_table Labels: a named character vector
#'   `c(loss = "Loss", sdice = "Dice Score")` (facets follow its order), or
#'   the path of a `.R`, `.json` or `.toml` labels file, or `NULL`.
#' @param segments `NULL` or a data.frame with columns `metric`, `data` and
#'   `epoch`, such as [early_stoppings()] returns.
#' @param base_size Base font size of `theme_bw()`.
#' @param ... Further arguments of [ggplot2::theme_bw()] (`base_family`,
#'   `base_line_size`, ...).
#' @param metrics `NULL` (all) or the metrics to draw, e.g. `c("loss", "sdice")`.
#' @param points,lines Draw points, lines.
#' @return A ggplot object.
#' @examples
#' \dontrun{
#' plot_history(hist, lookup_table = training_labels,
#'              segments = early_stoppings(hist, tolerance = 0.005), base_size = 12) +
#'   patchwork::plot_annotation(title = "UNet")
#' }
#' @export
plot_history <- function(hist, lookup_table = NULL, segments = NULL, base_size = 11, ...,
                         metrics = NULL, points = TRUE, lines = TRUE) {
  .check_number(base_size, "base_size")
  long <- .as_long(hist)
  if (!is.null(metrics)) {
    present <- unique(as.character(long$metric))
    unknown <- setdiff(metrics, present)
    if (length(unknown)) {
      stop(sprintf("histkit: metric '%s' is not in the history; it has %s",
                   unknown[1], paste(present, collapse = ", ")), call. = FALSE)
    }
    long <- long[as.character(long$metric) %in% metrics, , drop = FALSE]
  }
  if (!nrow(long)) {
    stop("histkit: nothing to plot: the history has no rows", call. = FALSE)
  }
  facets <- .py_call("facet_levels", unique(as.character(long$metric)),
                     .encode_lookup(lookup_table))
  .build_plot(long, segments, unlist(facets$order), unlist(facets$labels), base_size,
              points = points, lines = lines, ...)
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
    ggplot2::theme_bw(base_size = base_size, ...) +
    ggplot2::theme(axis.title.y = ggplot2::element_blank(), legend.position = "bottom")
}

# Size that fits the facet grid, as the Python package's save_plot() picks it.
.default_size <- function(n_facets) {
  ncol <- ceiling(sqrt(n_facets))
  c(width = 3.2 * ncol + 1.2, height = 2.6 * ceiling(n_facets / ncol) + 1.6)
}

# Draw and save one figure from plain tables; the rpy2 bridge
# (histkit/rbridge.py, `histkit plot --engine r`) calls this in an R embedded
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
