"""Command line: ``python -m il2lib <command> FILE [filters] [--format text|json]``.

Every command loads the patient file with :func:`il2lib.validation.patients.load_cohort`, applies the
cohort filter given by flags named after the schema columns (``--disease rcc
--prior-pd1-pdl1 no``), and prints a text table or a JSON document. Errors (not a table, a
file-level finding, a bad argument) go to stderr with exit status 2.

Adding a command is one additive edit: write ``_add_x(parser)`` and ``_run_x(args) -> int`` in a module
of this package, list ``("x", "help", _add_x, _run_x)`` in its ``COMMANDS`` and add them to
:data:`COMMANDS` here. Shared helpers are in :mod:`il2lib.cli._common`.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from il2lib.cli import analyses, report, store, summary
from il2lib.errors import Il2libError

#: (name, help, add_arguments, run) of every subcommand.
COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
    *summary.COMMANDS, *analyses.COMMANDS, *report.COMMANDS, *store.COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m il2lib", description="il2-registry analyses from the command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except Il2libError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
