#' histkit: training histories turned into answers
#'
#' The R front end of the Python package 'histkit'. [to_history()],
#' [read_history()], [read_probes()], [early_stoppings()], [keras_stop()],
#' [parse_run_name()], [runs()] and [histkit_report()] compute through the
#' Python package (found as [histkit_python()] explains), so R and Python
#' give identical numbers; [plot_history()] draws a native ggplot2 figure of the
#' metrics and [plot_telemetry()] one of the telemetry (learning rate, time,
#' memory).
#'
#' @keywords internal
#' @importFrom ggplot2 .data
"_PACKAGE"
