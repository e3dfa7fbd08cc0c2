"""Caseline's write side: aggregates, their rules and the application service.

Nothing here imports a web framework, a scheduler or a database driver; the
event store is chosen by environment settings handed to `Workflow`.
"""
