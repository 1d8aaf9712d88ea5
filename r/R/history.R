#' Reshape a training history into the long table
#'
#' Turns a wide history (one row per epoch, an optional `epoch` column and one
#' column per metric, `val_<m>` being the validation series of `<m>`), as
#' `readr::read_csv()` reads a Keras `CSVLogger` file, into the long table of
#' R keras' `as.data.frame(history)`. The reshaping is done by the Python
#' package, so R and Python give the same rows.
#'
#' The file's epoch numbers are kept as they are (Keras writes them from 0);
#' rows are numbered from 1 only when there is no `epoch` column. Missing
#' cells (`NA`, `NaN`, text such as `"nan"`) stay missing values. A table
#' that is already long is returned with its columns typed as below.
#'
#' @param wide A data.frame or tibble: the wide history.
#' @param keep Names of extra columns to carry along (e.g. `"path"` for the
#'   histories of many runs at once); they lead the result.
#' @return A data.frame with columns `epoch` (integer), `value` (double),
#'   `metric` (factor, levels in order of first appearance) and `data`
#'   (factor, `training` then `validation`); rows ordered by metric, data,
#'   epoch.
#' @seealso [read_history()], [early_stoppings()], [plot_history()]
#' @examples
#' \dontrun{
#' tb <- readr::read_csv("run/2021-03-10/unet_2d_mdice/fat_768x384x1/RUN.csv")
#' hist <- to_history(tb)
#' }
#' @export
to_history <- function(wide, keep = character()) {
  if (!is.character(keep)) {
    stop("histkit: keep must be a character vector of column names", call. = FALSE)
  }
  .decode_frame(.py_call("to_history", .encode_frame(wide, "wide"), as.list(keep)))
}

#' Read one history
#'
#' Reads one training history of any source the Python package reads, and
#' recognises which it is by its content: a Keras `CSVLogger` file (comma,
#' semicolon or tab separated; `""`, `nan`, `NA` are missing) or
#' `history.history` dumped as JSON, a Lightning `metrics.csv`, a
#' TensorBoard log directory or event file, a Hugging Face
#' `trainer_state.json`, a fastai `history.csv`, an MLflow run, an R keras
#' history saved with `saveRDS()`. `source` forces one reader. Errors are
#' the Python reader's, in one line: they name the file, and the line and
#' column of a bad cell. A resumed log that repeats epochs keeps the last
#' row of each, with a warning.
#'
#' @param path Path to the history file (or run directory).
#' @param source `NULL` (recognise the source) or the reader to use:
#'   `"keras"`, `"lightning"`, `"tensorboard"`, `"transformers"`,
#'   `"fastai"`, `"mlflow"` or `"rds"`. Another name is an error listing
#'   these.
#' @return The wide table: `epoch` (integer) then one double column per
#'   series (`val_<m>` the validation series of `<m>`), the file's epoch
#'   numbers kept. Pass it to [to_history()] for the long table.
#' @examples
#' \dontrun{
#' hist <- to_history(read_history("run/2021-03-10/unet_2d_mdice/fat_768x384x1/RUN.csv"))
#' hist <- to_history(read_history("lightning_logs/version_0/metrics.csv", source = "lightning"))
#' }
#' @export
read_history <- function(path, source = NULL) {
  if (!is.character(path) || length(path) != 1 || is.na(path)) {
    stop("histkit: path must be one file path", call. = FALSE)
  }
  if (!is.null(source) && (!is.character(source) || length(source) != 1 || is.na(source))) {
    stop("histkit: source must be NULL or one reader name, such as \"keras\"", call. = FALSE)
  }
  .decode_frame(.py_call("read_history", path.expand(path), source))
}
