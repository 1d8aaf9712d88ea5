#' Read the probes of one run
#'
#' Reads what `histkit train` records inside the network at every epoch,
#' written beside the history in `<run>.probes/`: per layer the weight norm,
#' gradient norm and update ratio, weight and gradient histograms with fixed
#' bins, per block activation statistics, predicted and true class shares,
#' the input's percentiles,
#' and the PNG images of activations, gradients and predictions. The tables
#' are those of Python's `histkit.read_probes()`, column for column: only the
#' epochs the history has are kept.
#'
#' A ratio Python cannot define (the update ratio of a layer whose weights
#' started at zero) is `NaN`, as in Python; the outer histogram bins have
#' `-Inf` and `Inf` edges. A run trained with \code{--no-probes}, or a path that
#' does not exist, is an error in one line.
#'
#' @param path Path to the history CSV of a run trained by `histkit train`
#'   (or to its `.probes` directory).
#' @return A named list of data.frames:
#'   \describe{
#'     \item{`scalars`}{`epoch`, `layer`, `weight_norm`, `grad_norm`,
#'       `update_ratio` (`|w_end - w_start| / |w_start|` over the epoch).}
#'     \item{`histograms`}{`epoch`, `layer`, `kind` (`"weight"` or `"grad"`),
#'       `bin`, `lo`, `hi` (the bin holds `lo <= v < hi`), `count`; empty
#'       bins have no row.}
#'     \item{`activations`}{`epoch`, `block`, `mean`, `std`, `zeros` (the
#'       fraction of zeros), `saturated`.}
#'     \item{`shares`}{`epoch`, `class`, `predicted`, `true`: each class's
#'       share of the validation pixels.}
#'     \item{`input`}{`epoch`, `mean`, `std`, `min`, `p01`, `p50`, `p99`,
#'       `max` of the fixed validation images as the network sees them.}
#'     \item{`images`}{`epoch`, `kind` (`"activation"`, `"gradient"` or
#'       `"predictions"`), `index`, `path` (of the PNG file).}
#'   }
#'   `epoch`, `bin`, `count` and `index` are integers, epochs numbered from
#'   0 as in the history. A table the run has no file of holds only an
#'   `epoch` column and no rows.
#' @seealso [read_history()]
#' @examples
#' \dontrun{
#' p <- read_probes("run/2026-11-23/unet_2d_mdice/fat_32x16x1/RUN.csv")
#' ggplot2::ggplot(p$scalars, ggplot2::aes(epoch, grad_norm, colour = layer)) +
#'   ggplot2::geom_line()
#' }
#' @export
read_probes <- function(path) {
  if (!is.character(path) || length(path) != 1 || is.na(path)) {
    stop("histkit: path must be one file path", call. = FALSE)
  }
  tables <- .py_call("read_probes", path.expand(path))
  lapply(tables[c("scalars", "histograms", "activations", "shares", "input", "images")],
         .decode_frame)
}
