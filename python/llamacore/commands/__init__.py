"""Subcommands of the `llamacore` CLI, one module each (see llamacore/cli.py)."""
