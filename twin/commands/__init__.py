"""Subcommands of `twin` that run the engines and the scorecard, one module each.

Every module in this package defines `register(subcommands)`, which adds its parser(s) to
the `twin` command's subparsers and sets `func` to a handler returning an exit status, as
twin/cli.py does for its own commands. Handlers raise TwinError (or a subclass) for bad
input; the CLI prints it as one `error: ...` line with exit status 2. Modules must import
their engine lazily (inside the handler), so `twin info` stays quick to start.
"""
from __future__ import annotations

import importlib
import pkgutil


def register_all(subcommands) -> None:
    """Add every command module's parsers, in module-name order (stable --help)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subcommands)
