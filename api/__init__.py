"""Caseline's entrypoints: settings, wiring and the `caseline` command line."""
