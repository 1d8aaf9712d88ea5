#' Early-stopping epochs within a tolerance
#'
#' For each (metric, data) series the best value is the minimum for loss-like
#' metrics (a `_`-separated token of the name is loss, error, mse, mae, rmse
#' or crossentropy) and the maximum otherwise. The stop is the first epoch
#' whose value is within `tolerance` of the best: `value <= best + tolerance`
#' when minimising, `value >= best - tolerance` when maximising. Ties on the
#' best go to the first epoch; missing values are skipped.
#'
#' @param hist A history: the long table of [to_history()] (or a wide one,
#'   reshaped first). Extra key columns `path` or `run` lead the result.
#' @param tolerance A positive number.
#' @param relative If `TRUE`, `tolerance` is a fraction of `|best|`
#'   (`0.01` is within 1\%).
#' @param mode `NULL` (choose by name), `"min"`, `"max"`, or a named
#'   character vector or list mapping metrics to `"min"`/`"max"`/`"auto"`.
#' @param telemetry More series that are telemetry, not metrics, e.g.
#'   `c("gpu_temp", "tokens_seen")` or `"gpu_temp,tokens_seen"`. Telemetry
#'   gets no stop: the built-in names (learning rate `lr`/`learning_rate`,
#'   `epoch_time_s`, `time`, `peak_mem_mb`, `step`, `global_step`, runtimes,
#'   throughputs) and these.
#' @return A data.frame, one row per series: `metric`, `data` (factors with
#'   the levels of `hist`), `epoch` (integer), `value` (double),
#'   `best_epoch` (integer), `best_value` (double).
#' @examples
#' \dontrun{
#' early_stoppings(hist, tolerance = 0.005) %>% dplyr::arrange(metric, epoch)
#' }
#' @export
early_stoppings <- function(hist, tolerance = 0.005, relative = FALSE, mode = NULL,
                            telemetry = character()) {
  .check_number(tolerance, "tolerance")
  .check_flag(relative, "relative")
  telemetry <- .check_names(telemetry, "telemetry")
  if (!is.null(names(mode))) {
    mode <- as.list(mode)  # names are metrics: keep them on the way to Python
  }
  out <- .decode_frame(.py_call("early_stoppings", .encode_frame(hist), tolerance,
                                relative, mode, telemetry))
  .match_levels(out, hist)
}

#' Replay Keras' EarlyStopping callback
#'
#' Says where `keras::callback_early_stopping()` would have stopped a run
#' whose history was logged in full, and which epoch
#' `restore_best_weights = TRUE` would bring back. Epochs are counted from the
#' first row, as Keras counts them; the epochs reported are the file's own.
#'
#' @param hist A wide history (as read) or the long table of [to_history()].
#' @param monitor The monitored column, e.g. `"val_loss"`.
#' @param min_delta,patience,baseline,start_from_epoch As in Keras.
#' @param mode `"auto"` (minimise loss-like metrics), `"min"` or `"max"`.
#' @return A list with `monitor`, `stopped` (logical), `stop_epoch` (integer,
#'   `NA` when the rule never fired), `restore_epoch` (integer),
#'   `best_value` (double) and `epochs_run` (integer).
#' @examples
#' \dontrun{
#' keras_stop(tb, monitor = "val_loss", patience = 3)
#' }
#' @export
keras_stop <- function(hist, monitor = "val_loss", min_delta = 0, patience = 0,
                       baseline = NULL, start_from_epoch = 0, mode = "auto") {
  stop_ <- .py_call("keras_stop", .encode_frame(hist), monitor, min_delta,
                    as.integer(patience), baseline, as.integer(start_from_epoch), mode)
  na_int <- function(x) if (is.null(x)) NA_integer_ else as.integer(x)
  structure(list(
    monitor = stop_$monitor,
    stopped = isTRUE(stop_$stopped),
    stop_epoch = na_int(stop_$stop_epoch),
    restore_epoch = na_int(stop_$restore_epoch),
    best_value = if (is.null(stop_$best_value)) NA_real_ else as.double(stop_$best_value),
    epochs_run = as.integer(stop_$epochs_run)
  ), class = "histkit_keras_stop")
}

#' @export
print.histkit_keras_stop <- function(x, ...) {
  if (x$stopped) {
    cat(sprintf("EarlyStopping on %s stops after epoch %d and restores epoch %d (%s = %g)\n",
                x$monitor, x$stop_epoch, x$restore_epoch, x$monitor, x$best_value))
  } else {
    cat(sprintf("EarlyStopping on %s never fires in %d epochs; best epoch %s (%s = %g)\n",
                x$monitor, x$epochs_run, x$restore_epoch, x$monitor, x$best_value))
  }
  invisible(x)
}

.check_number <- function(x, what) {
  if (!is.numeric(x) || length(x) != 1 || is.na(x)) {
    stop(sprintf("histkit: %s must be one number, got %s", what,
                 paste(deparse(x), collapse = " ")), call. = FALSE)
  }
}

# A character vector of names (or NULL when null_ok) as an unnamed list, so
# that Python gets a list whatever its length (reticulate sends a length-1
# vector as a scalar, and a named list as a dict).
.check_names <- function(x, what, null_ok = FALSE) {
  if (is.null(x) && null_ok) {
    return(NULL)
  }
  if (is.null(x)) {
    x <- character()
  }
  if (!is.character(x) || anyNA(x)) {
    stop(sprintf("histkit: %s must be a character vector of series names, got %s", what,
                 paste(deparse(x), collapse = " ")), call. = FALSE)
  }
  as.list(unname(x))
}

.check_flag <- function(x, what) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    stop(sprintf("histkit: %s must be TRUE or FALSE", what), call. = FALSE)
  }
}

# Give the metric/data columns of a result the type of the history they came
# from: the same factor levels (so dplyr::arrange(metric) sorts as the history
# does), or character when the history has character columns.
.match_levels <- function(out, hist) {
  for (col in intersect(c("metric", "data"), intersect(names(out), names(hist)))) {
    x <- as.character(out[[col]])
    if (is.factor(hist[[col]])) {
      out[[col]] <- factor(x, levels = union(levels(hist[[col]]), unique(x)))
    } else if (is.character(hist[[col]])) {
      out[[col]] <- x
    }
  }
  out
}
