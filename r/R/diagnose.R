#' Diagnose failed or suspect runs from their histories
#'
#' Says whether a run failed and why, from its history alone: divergence
#' (NaN, inf, explosion), a loss stuck at chance (near ln K), the
#' softmax-into-`from_logits` signature, collapse to background,
#' overfitting, oscillation, validation better than training, a run still
#' improving at its end and epochs wasted after it stopped improving. The
#' findings, their thresholds and their texts are those of Python's
#' `histkit.diagnosis.diagnose()`, row for row.
#'
#' @param hist A history: a wide table as read (e.g. by `readr::read_csv()`)
#'   or the long table of [to_history()]. In a long table of many runs a
#'   `path` or `run` column keys the runs (a `path` also leads the result,
#'   and the run's name comes from it).
#' @param classes The number of classes K (one whole number, at least 2),
#'   for the ln K and double-softmax checks; `NULL` infers it from per-class
#'   score names such as `background_dice`, `vsat_dice`, `scat_dice`.
#' @param rules `NULL` (every rule) or a character vector of rule ids to keep:
#'   `"diverged"`, `"double_softmax"`, `"stuck"`, `"collapse_to_background"`, `"class_collapse"`,
#'   `"overfitting"`, `"oscillating"`, `"val_better_than_train"`,
#'   `"too_slow"`, `"wasted_epochs"`.
#' @param telemetry More series that are telemetry, not metrics (as in
#'   [early_stoppings()]); telemetry is never diagnosed.
#' @param run `NULL` or one string: the name of a single history (the `run`
#'   column of the result; `NA` without it).
#' @return A data.frame, one row per finding: `run`, `rule`, `severity`
#'   (`"error"`, `"warning"` or `"info"`), `epoch` (integer, where it was
#'   first seen), `metric`, `data`, `evidence` (the numbers) and `advice`
#'   (what to try), all but `epoch` character; `path` leads when `hist` has
#'   one. A run's rows come errors first, then by epoch. A healthy run gives
#'   no rows (with the same columns).
#' @examples
#' \dontrun{
#' tb <- readr::read_csv(path)   # a Keras CSVLogger history
#' diagnose(tb, run = "unet_adam")
#' diagnose(hist, classes = 3, rules = c("diverged", "stuck"))
#' }
#' @export
diagnose <- function(hist, classes = NULL, rules = NULL, telemetry = character(),
                     run = NULL) {
  if (!is.null(classes)) {
    if (!is.numeric(classes) || length(classes) != 1 || !is.finite(classes) ||
        classes != round(classes) || classes < 2) {
      stop(sprintf("histkit: classes must be one whole number of at least 2, got %s",
                   paste(deparse(classes), collapse = " ")), call. = FALSE)
    }
    classes <- as.integer(classes)
  }
  if (!is.null(rules) && (!is.character(rules) || anyNA(rules))) {
    stop(sprintf("histkit: rules must be a character vector of rule ids, or NULL for all, got %s",
                 paste(deparse(rules), collapse = " ")), call. = FALSE)
  }
  if (!is.null(rules)) {
    rules <- as.list(unname(rules))  # a list, so Python gets one whatever its length
  }
  telemetry <- .check_names(telemetry, "telemetry")
  if (!is.null(run) && (!is.character(run) || length(run) != 1 || is.na(run))) {
    stop(sprintf("histkit: run must be one string (the run's name) or NULL, got %s",
                 paste(deparse(run), collapse = " ")), call. = FALSE)
  }
  .decode_frame(.py_call("diagnose", .encode_frame(hist), classes, rules, telemetry, run))
}
