# Finding and calling the Python package. Loading the namespace starts
# nothing, so an R embedded in Python that only draws figures (the rpy2
# bridge calls .render_frames() through asNamespace()) never starts Python.
# library(histkit) starts Python when one is configured (option or
# environment variable), so the first call does not pay for it and a wrong
# setting is reported at once; otherwise Python starts on the first call.

.state <- new.env(parent = emptyenv())

.onAttach <- function(libname, pkgname) {
  if (!is.null(.python_choice()) && isTRUE(getOption("histkit.start_on_attach", TRUE))) {
    tryCatch(.api(), error = function(e) packageStartupMessage(conditionMessage(e)))
  }
}

#' Which Python histkit uses
#'
#' The numbers of every histkit function come from the Python package
#' 'histkit' through 'reticulate'. R looks for that Python, in this order:
#' the option `histkit.python`, the environment variable `HISTKIT_PYTHON`,
#' then `RETICULATE_PYTHON`, then reticulate's own choice. Point one of them
#' at the project's virtualenv (`.venv/bin/python`) before `library(histkit)`:
#' when one is set, attaching the package starts Python (a problem is then
#' reported as a startup message, and again as an error by the first call);
#' when none is set, Python starts on the first call. Set the option
#' `histkit.start_on_attach = FALSE` to always start on the first call.
#'
#' @param python Path to a Python executable to use, or `NULL` to only
#'   report the current one. Python can be chosen once per R session, before
#'   it starts; choosing another one after that is an error.
#' @return A list: `python` (the executable), `version` (Python's) and
#'   `histkit` (the Python package's version), invisibly when `python` is
#'   given.
#' @examples
#' \dontrun{
#' options(histkit.python = "~/histkit/.venv/bin/python")
#' histkit_python()
#' }
#' @export
histkit_python <- function(python = NULL) {
  if (!is.null(python)) {
    if (reticulate::py_available(initialize = FALSE)) {
      current <- reticulate::py_config()$python
      if (normalizePath(current, mustWork = FALSE) != normalizePath(python, mustWork = FALSE)) {
        stop(sprintf(paste("histkit: Python %s is already running in this R session;",
                           "restart R and set options(histkit.python = \"%s\")",
                           "before library(histkit)"), current, python), call. = FALSE)
      }
    }
    options(histkit.python = python)
    return(invisible(.py_call("info")))
  }
  .py_call("info")
}

.python_choice <- function() {
  candidates <- list(
    list(getOption("histkit.python"), "option histkit.python"),
    list(Sys.getenv("HISTKIT_PYTHON"), "HISTKIT_PYTHON"),
    list(Sys.getenv("RETICULATE_PYTHON"), "RETICULATE_PYTHON")
  )
  for (c in candidates) {
    if (is.character(c[[1]]) && length(c[[1]]) == 1 && nzchar(c[[1]])) {
      return(list(path = path.expand(c[[1]]), from = c[[2]]))
    }
  }
  NULL
}

.how_to_point <- paste(
  "Point R at the Python that has histkit installed (the project's .venv),",
  "in a fresh R session, before library(histkit):",
  "options(histkit.python = \"/path/to/histkit/.venv/bin/python\")",
  "or Sys.setenv(HISTKIT_PYTHON = \"/path/to/histkit/.venv/bin/python\")."
)

# The module histkit.rapi, imported once per session.
.api <- function() {
  if (!is.null(.state$api)) {
    return(.state$api)
  }
  choice <- .python_choice()
  if (!is.null(choice)) {
    if (!file.exists(choice$path)) {
      stop(sprintf("histkit: Python %s (from %s) does not exist. %s",
                   choice$path, choice$from, .how_to_point), call. = FALSE)
    }
    if (!reticulate::py_available(initialize = FALSE)) {
      # reticulate reads RETICULATE_PYTHON when it starts Python
      Sys.setenv(RETICULATE_PYTHON = choice$path)
      tryCatch(reticulate::use_python(choice$path, required = TRUE),
               error = function(e) {
                 stop(sprintf("histkit: cannot use Python %s (from %s): %s. %s",
                              choice$path, choice$from, conditionMessage(e),
                              .how_to_point), call. = FALSE)
               })
    }
  }
  api <- tryCatch(
    {
      .add_site_dirs()
      reticulate::import("histkit.rapi", convert = TRUE)
    },
    error = function(e) {
      python <- tryCatch(reticulate::py_config()$python, error = function(e2) "(none found)")
      first <- strsplit(conditionMessage(e), "\n", fixed = TRUE)[[1]][1]
      stop(sprintf(paste("histkit: the Python package 'histkit' cannot be imported",
                         "by %s (%s). %s Check with: %s -c \"import histkit\"."),
                   python, first, .how_to_point, python), call. = FALSE)
    }
  )
  .state$api <- api
  api
}

# reticulate puts a virtualenv's site-packages on sys.path by hand, so its
# .pth files never run and an editable install (`pip install -e .`, whose
# finder a .pth file installs) is invisible. Run them, once, when histkit is
# not importable as things are.
.add_site_dirs <- function() {
  reticulate::py_run_string(paste(
    "import importlib.util as _u, os as _os, site as _site, sys as _sys",
    "if _u.find_spec('histkit') is None:",
    "    for _p in list(_sys.path):",
    "        if _p.endswith(('site-packages', 'dist-packages')) and _os.path.isdir(_p):",
    "            _site.addsitedir(_p)",
    sep = "\n"
  ), local = TRUE, convert = FALSE)
  invisible()
}

# Call histkit.rapi.<fun>(...); turn its warnings into R warnings and its
# error into one clean stop().
.py_call <- function(fun, ...) {
  api <- .api()
  result <- tryCatch(
    api[[fun]](...),
    error = function(e) {
      msg <- strsplit(conditionMessage(e), "\n", fixed = TRUE)[[1]]
      msg <- msg[nzchar(msg) & !grepl("py_last_error|^Detailed traceback", msg)]
      stop(sprintf("histkit: %s", paste(msg, collapse = " ")), call. = FALSE)
    }
  )
  for (w in unlist(result$warnings)) {
    warning(sprintf("histkit: %s", w), call. = FALSE)
  }
  if (!is.null(result$error)) {
    stop(sprintf("histkit: %s", result$error), call. = FALSE)
  }
  result$value
}
