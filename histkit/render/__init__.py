"""Rendering: figures of histories and probes, terminal tables, the report."""
