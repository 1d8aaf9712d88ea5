# Tables across the reticulate boundary, as plain columns (see
# histkit/rapi.py). reticulate 1.28 sends NA_integer_ as -2147483648,
# NA_character_ as "NA" and NA as TRUE, and drops the names of a character
# vector; pandas frames may not convert back under numpy 2. So every column
# travels with the 0-based positions of its missing values and a harmless
# placeholder in them, and data.frames are rebuilt here from plain vectors.

.placeholder <- list(double = NaN, integer = 0L, character = "", logical = FALSE)

.encode_column <- function(x) {
  if (is.factor(x)) {
    x <- as.character(x)
  }
  type <- if (is.logical(x)) {
    "logical"
  } else if (is.integer(x)) {
    "integer"
  } else if (is.numeric(x)) {
    "double"
  } else {
    "character"
  }
  x <- switch(type,
    logical = as.logical(x),
    integer = as.integer(x),
    double = as.double(x),
    character = as.character(x)
  )
  missing <- which(is.na(x))
  x[missing] <- .placeholder[[type]]
  # a length-1 vector crosses as a scalar; rapi._as_list() takes care of it
  list(values = unname(x), type = type, na = missing - 1L)
}

.encode_frame <- function(df, what = "hist") {
  if (!is.data.frame(df)) {
    stop(sprintf("histkit: %s must be a data.frame or tibble, not %s",
                 what, paste(class(df), collapse = "/")), call. = FALSE)
  }
  cols <- lapply(as.list(df), .encode_column)
  list(
    names = as.list(names(df)),
    columns = lapply(cols, `[[`, "values"),
    types = lapply(cols, `[[`, "type"),
    na = lapply(cols, `[[`, "na")
  )
}

.typed <- function(values, type) {
  empty <- switch(type, integer = integer(), double = double(),
                  logical = logical(), character = character())
  if (length(values) == 0) {
    return(empty)
  }
  x <- unlist(values, use.names = FALSE)
  switch(type,
    integer = as.integer(x),
    double = as.double(x),
    logical = as.logical(x),
    character = as.character(x)
  )
}

.decode_frame <- function(table) {
  names <- unlist(table$names)
  if (is.null(names)) {
    return(data.frame())
  }
  cols <- lapply(names, function(name) {
    type <- table$types[[name]]
    x <- .typed(table$columns[[name]], type)
    missing <- unlist(table$na[[name]])
    if (length(missing)) {
      x[missing + 1L] <- NA
    }
    levels <- unlist(table$levels[[name]])
    if (!is.null(levels)) {
      x <- factor(x, levels = union(levels, unique(x[!is.na(x)])))
    }
    x
  })
  names(cols) <- names
  df <- as.data.frame(cols, stringsAsFactors = FALSE, optional = TRUE)
  names(df) <- names
  rownames(df) <- NULL
  df
}

# A lookup table for Python: a named character vector (the seed's
# training_labels), a named list, or a path to a .R/.json/.toml labels file.
.encode_lookup <- function(lookup_table) {
  if (is.null(lookup_table)) {
    return(NULL)
  }
  if (is.character(lookup_table) && length(lookup_table) == 1 &&
      is.null(names(lookup_table))) {
    return(path.expand(lookup_table))  # a labels file
  }
  keys <- names(lookup_table)
  if (is.null(keys) || any(!nzchar(keys)) || anyNA(keys)) {
    stop(paste("histkit: lookup_table must be a named character vector such as",
               "c(loss = \"Loss\", sdice = \"Dice Score\") (names are metrics),",
               "or the path of a .R, .json or .toml labels file"), call. = FALSE)
  }
  values <- unlist(lookup_table, use.names = FALSE)
  if (!is.character(values) || anyNA(values) || length(values) != length(keys)) {
    stop("histkit: every label in lookup_table must be one non-missing string",
         call. = FALSE)
  }
  # a named character vector would reach Python as a list without its names
  as.list(stats::setNames(values, keys))
}
