"""``chainrule``: the command line (``python -m chainrule`` and the ``chainrule`` script).

Subcommands: ``train``, ``evaluate``, ``predict``, ``generate`` (this package) and, when their modules are
present, ``explain`` and ``bench``. Every subcommand module exposes ``add_parser(subparsers)``
and ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from .. import __version__
from ..backend import keep_freed_memory
from . import EXIT_ERROR, EXIT_INTERRUPTED, error, os_error_reason

CORE_COMMANDS = ("train", "evaluate", "predict", "generate")
OPTIONAL_COMMANDS = ("explain", "bench", "export")
"""Registered only when ``chainrule.cli.<name>`` exists (they are written separately)."""


def _load_optional(name: str) -> Optional[object]:
    module_name = f"{__package__}.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # the module is absent: skip the subcommand quietly
            return None
        print(f"chainrule: warning: the {name!r} subcommand is unavailable: {exc}",
              file=sys.stderr)
    except Exception as exc:  # a broken optional module must not break train/evaluate
        print(f"chainrule: warning: the {name!r} subcommand is unavailable: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
    return None


def build_parser() -> argparse.ArgumentParser:
    """The ``chainrule`` argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: reverse-mode autodiff and neural networks on NumPy. "
                    "`chainrule train` trains LeNet-5 on Fashion-MNIST.",
        epilog="`chainrule COMMAND --help` describes a command.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in CORE_COMMANDS:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
    for name in OPTIONAL_COMMANDS:
        module = _load_optional(name)
        if module is not None and hasattr(module, "add_parser") and hasattr(module, "run"):
            before = set(sub.choices)
            module.add_parser(sub)
            for added in set(sub.choices) - before:  # let usage_error find the subparser
                p = sub.choices[added]
                if p.get_default("func") is None:
                    p.set_defaults(func=module.run)
                if p.get_default("_parser") is None:
                    p.set_defaults(_parser=p)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return the exit code.

    Bad arguments print a usage message and return 2 (never a traceback); ``--help`` returns 0.
    Ctrl-C at any point (the subcommands' imports, loading data, building the model) prints
    one line and returns 130; a subcommand that can say more (``train``: how to resume)
    catches it itself. An ``OSError`` no subcommand expected (a disk failing, a file vanishing)
    prints one line and returns 1.

    Example:
        >>> main(["train", "--lr", "0"])  # doctest: +SKIP
        usage: chainrule train [-h] ...
        chainrule train: error: argument --lr: must be > 0, got 0
        2
    """
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # report them with the subcommand's usage, not the top-level one
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
        keep_freed_memory()  # the command owns its process: let freed blocks be reused
        return int(args.func(args))
    except SystemExit as exc:  # argparse errors (2), --help/--version (0)
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        error(str(code))
        return EXIT_ERROR
    except BrokenPipeError:  # `chainrule predict ... | head`
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the line the terminal's ^C is on
        error("interrupted (Ctrl-C)")
        return EXIT_INTERRUPTED
    except OSError as exc:  # the message without the file is not enough: name it
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        error(f"{os_error_reason(exc)}{where}")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
