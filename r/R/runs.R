#' Parse run names
#'
#' Splits names of the form
#' `<model>_<dim>_<loss>[_ag]_<optimizer>_<dataset>_<H>x<W>x<C>_N<n>_E<e>_L<l>_FBL<f>[_DR<d>][_BS<b>][_LR<lr>][_S<s>]`
#' into their fields, with the Python package's grammar. A `.csv` suffix is
#' dropped; for a path (`run/<date>/<model_dir>/<dataset_dir>/<name>.csv`)
#' the date is read from it. A name outside the grammar gives a row of
#' missing fields and a warning (an error with `strict = TRUE`).
#'
#' @param name A character vector of run names, file names or paths.
#' @param strict If `TRUE`, a name outside the grammar is an error.
#' @return A data.frame, one row per name: `date`, `name`, `model`, `dim`,
#'   `loss` (character), `attention` (logical), `optimizer`, `dataset`
#'   (character), `height`, `width`, `channels`, `n_train`, `epochs`,
#'   `levels`, `base_filters` (integer), `dropout` (double, 0 without a DR
#'   token), `batch_size` (integer, `NA` without a BS token: the trainer's
#'   default), `lr` (double, `NA` without an LR token: the optimizer's
#'   default), `seed` (integer, 0 without an S token), `extra` (character,
#'   unknown tokens joined by `_`) and `valid` (logical).
#' @examples
#' \dontrun{
#' parse_run_name("unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20")
#' }
#' @export
parse_run_name <- function(name, strict = FALSE) {
  if (!is.character(name) || anyNA(name)) {
    stop("histkit: name must be a character vector without NA", call. = FALSE)
  }
  .decode_frame(.py_call("parse_run_name", as.list(name), strict))
}

#' The runs of a run/ tree
#'
#' One row per history under `root`: the parsed name fields, the epochs
#' logged, and the best `val_loss` with its epoch and its stop epoch within
#' `tolerance`.
#'
#' @param root A directory (searched recursively for `*.csv`), a file, or a
#'   character vector of them.
#' @param tolerance Tolerance of the stop epoch (see [early_stoppings()]).
#' @param strict If `TRUE`, a run name outside the grammar is an error.
#' @return A data.frame with `path`, the fields of [parse_run_name()]
#'   (`run` holding the name), `epochs_logged`, `best_val_loss`,
#'   `best_val_loss_epoch` and `stop_val_loss_epoch`. Files that could not be
#'   read keep their row, are listed in `attr(, "problems")` and give a
#'   warning each.
#' @examples
#' \dontrun{
#' runs("run") %>% dplyr::filter(attention)
#' }
#' @export
runs <- function(root = "run", tolerance = 0.005, strict = FALSE) {
  if (!is.character(root) || !length(root)) {
    stop("histkit: root must be a directory or file path (or several)", call. = FALSE)
  }
  .check_number(tolerance, "tolerance")
  res <- .py_call("runs", as.list(path.expand(root)), tolerance, strict)
  out <- .decode_frame(res$table)
  problems <- as.character(unlist(res$problems))
  for (p in problems) {
    warning(sprintf("histkit: %s", p), call. = FALSE)
  }
  attr(out, "problems") <- problems
  out
}

#' Build the report of a study
#'
#' Writes the browsable report of every history under `root` (one figure per
#' run, comparison figures by hyperparameter, `summary.csv`/`.parquet` and a
#' self-contained `index.html`), as `histkit report` does. Incremental: a
#' second call redraws only what changed.
#'
#' @param root Directories or files of histories.
#' @param out Output directory.
#' @param labels Labels as for [plot_history()]'s `lookup_table`.
#' @param tolerance Tolerance of the stop epochs.
#' @param group_by Fields to compare runs by (default: those that vary).
#' @param jobs Worker processes (default: one per CPU; 1 draws in this
#'   process).
#' @param title Report title.
#' @param formats Figure formats: any of `"png"`, `"pdf"`, `"svg"`.
#' @param dpi,base_size Figure resolution and base font size.
#' @param strict If `TRUE`, a run name outside the grammar is an error.
#' @param pages The most runs drawn with a figure and a page (`NULL`:
#'   histkit's default, 500): a larger study shows its best and its failed
#'   runs, half each, and its tables and comparisons still cover every run.
#' @return A list (invisibly): `index` (path of `index.html`), `output`,
#'   `rendered`, `skipped`, `removed`, `shown` (character: the runs with
#'   figures and pages), `problems` (character;
#'   each also given as a warning) and `summary` (a data.frame, one row per
#'   run).
#' @examples
#' \dontrun{
#' histkit_report("run", "reports/fat_study", labels = training_labels)
#' }
#' @export
histkit_report <- function(root = "run", out = "reports/report", labels = NULL,
                           tolerance = 0.005, group_by = NULL, jobs = NULL, title = NULL,
                           formats = "png", dpi = 100, base_size = 11, strict = FALSE,
                           pages = NULL) {
  .check_number(tolerance, "tolerance")
  if (!is.null(pages)) .check_number(pages, "pages")
  res <- .py_call("report", as.list(path.expand(root)), path.expand(out),
                  .encode_lookup(labels), tolerance,
                  if (is.null(group_by)) NULL else as.list(group_by),
                  if (is.null(jobs)) NULL else as.integer(jobs), title, as.list(formats),
                  as.integer(dpi), as.double(base_size), strict,
                  if (is.null(pages)) NULL else as.integer(pages))
  problems <- as.character(unlist(res$problems))
  for (p in problems) {
    warning(sprintf("histkit: %s", p), call. = FALSE)
  }
  invisible(list(
    index = res$index, output = res$output,
    rendered = as.character(unlist(res$rendered)),
    skipped = as.character(unlist(res$skipped)),
    removed = as.character(unlist(res$removed)),
    shown = as.character(unlist(res$shown)),
    problems = problems,
    summary = .decode_frame(res$summary)
  ))
}
