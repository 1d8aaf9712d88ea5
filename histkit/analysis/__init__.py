"""Analysis of histories already read: early stops, per-run summaries and the
runs table (with its cache), comparisons across a study, group curves."""
