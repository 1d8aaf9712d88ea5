"""The study report: one browsable, self-contained report over every run.

:func:`build_report` (in :mod:`.build`) is the whole pipeline; its steps live
in :mod:`.settings` (options and their checks), :mod:`.study` (reading the
histories once), :mod:`.summary` (the runs shown, the tables), :mod:`.manifest`
(what is fresh), :mod:`.tasks` with :mod:`.figures` and :mod:`.page` (drawing
what is not) and :mod:`.index` (``index.html``; templates via :mod:`.templating`).
"""

from .build import Report, build_report
from .settings import DEFAULT_GROUP_BY, GROUP_FIELDS, PAGES, REPORT_FORMATS, check_settings

__all__ = ["build_report", "check_settings", "Report", "DEFAULT_GROUP_BY", "GROUP_FIELDS",
           "REPORT_FORMATS", "PAGES"]
