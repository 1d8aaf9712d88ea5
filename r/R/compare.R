#' Which factor matters in a study
#'
#' Compares the runs under `root` as `histkit report` does: per factor (the
#' run-name fields that vary; the seed is a replicate) and level, the mean
#' and standard deviation of the runs' best value and stop epoch with the
#' best run; paired effects from runs that differ in that factor alone,
#' everything else (seed included) equal; and the factors ranked by their
#' mean absolute paired effect, with the share of variance their levels
#' explain and the factors they are confounded with in the study.
#'
#' @param root Directories or files of histories.
#' @param metric The series to compare: `"sdice"` (its validation series),
#'   `"val_loss"`, `"loss"`... (default: the validation series of the first
#'   metric of `labels`, else `val_loss`).
#' @param tolerance Tolerance of the stop epochs.
#' @param labels Labels as for [plot_history()]'s `lookup_table`: they pick
#'   the default metric.
#' @param strict If `TRUE`, a run name outside the grammar is an error.
#' @return A list: `levels` (`factor`, `level`, `runs`, `mean`, `std`,
#'   `stop_mean`, `stop_std`, `best_run`, `best`), `effects` (`factor`,
#'   `level`, `reference`, `pairs`, `mean_diff` = level minus reference,
#'   `std_diff`), `importance` (`factor`, `levels`, `pairs`,
#'   `mean_abs_effect`, `eta_squared`, `confounded_with`), all data.frames;
#'   `metric` (the series compared), `higher_is_better` and `method`.
#'   Histories that cannot be read give a warning each.
#' @examples
#' \dontrun{
#' cmp <- compare_runs("run/2026-12-02", metric = "sdice")
#' cmp$importance
#' }
#' @export
compare_runs <- function(root = "run", metric = NULL, tolerance = 0.005, labels = NULL,
                         strict = FALSE) {
  if (!is.character(root) || !length(root)) {
    stop("histkit: root must be a directory or file path (or several)", call. = FALSE)
  }
  .check_number(tolerance, "tolerance")
  res <- .py_call("compare_runs", as.list(path.expand(root)), metric, tolerance,
                  .encode_lookup(labels), strict)
  for (p in as.character(unlist(res$problems))) {
    warning(sprintf("histkit: %s", p), call. = FALSE)
  }
  list(levels = .decode_frame(res$levels), effects = .decode_frame(res$effects),
       importance = .decode_frame(res$importance), metric = res$metric,
       higher_is_better = res$higher_is_better, method = res$method)
}
