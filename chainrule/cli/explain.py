"""``chainrule explain``: run a worked example inside a trace, print it, draw its graph.

    chainrule explain --list                 the examples, one line each
    chainrule explain shop                   walkthrough + backward trace + explain-out/shop.png
    chainrule explain shop --out pics --format svg
    chainrule explain --docs docs/gallery    regenerate the gallery pages (Markdown + PNG
                                             + a notebook each)

Registered as a subcommand by ``chainrule/cli/main.py`` (``add_parser`` and ``run``); also
runnable alone as ``python -m chainrule.cli.explain``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence, TextIO

from .. import gallery
from ..io.files import write_atomic
from ..random import manual_seed
from ..viz.graph import (GraphvizUnavailableError, dot_available, draw_graph, escape_label,
                         render_dot, save_graph)
from ..viz.trace import Trace, trace
from . import folder_problem

DEFAULT_OUT = "explain-out"
DOCS_MAX_ROWS = 60
"""Trace rows shown on a gallery page (long examples, like a training loop, are cut)."""
MAX_ROWS = 200
"""Trace rows printed by default (``--max-rows 0`` prints all)."""

_DESCRIPTION = ("Run a worked example of backpropagation inside a trace: print its "
                "walkthrough and the table of its forward and backward steps, and draw its "
                "computational graph.")


def _configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("example", nargs="?", metavar="EXAMPLE",
                   help=f"the example to explain: {', '.join(gallery.EXAMPLES)}")
    p.add_argument("--list", action="store_true", help="list the examples and exit")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"folder for the graph picture (default: {DEFAULT_OUT}/)")
    p.add_argument("--format", choices=("png", "svg", "pdf", "dot"), default=None,
                   help="graph picture format (default: png if Graphviz's dot program is "
                        "installed, else dot)")
    p.add_argument("--max-rows", type=int, default=MAX_ROWS, metavar="N",
                   help=f"print only the first N rows of the trace (default {MAX_ROWS}; 0: all)")
    p.add_argument("--docs", metavar="DIR", default=None,
                   help="write the gallery pages (one Markdown page and PNG per example, plus "
                        "index.md) into DIR, for EXAMPLE or for all")
    p.set_defaults(func=run, _explain_parser=p)
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``explain`` subcommand to ``subparsers`` (from ``add_subparsers()``).

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers()``.

    Returns:
        The new subparser; its defaults carry ``func=run``.

    Example:
        >>> import argparse
        >>> top = argparse.ArgumentParser(prog="chainrule")
        >>> p = add_parser(top.add_subparsers(dest="command"))
        >>> top.parse_args(["explain", "shop"]).example
        'shop'
    """
    p = subparsers.add_parser("explain", help="see backpropagation on a worked example",
                              description=_DESCRIPTION)
    return _configure(p)


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser of ``python -m chainrule.cli.explain``.

    Returns:
        An ``ArgumentParser`` with the same arguments as the subcommand.

    Example:
        >>> build_parser().parse_args(["--list"]).list
        True
    """
    return _configure(argparse.ArgumentParser(prog="chainrule explain",
                                              description=_DESCRIPTION))


def list_examples(stream: Optional[TextIO] = None) -> None:
    """Print each example's name and one-line description.

    Args:
        stream: where to print (default stdout).

    Example:
        >>> list_examples()  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        shop     The shop graph: ...
        ...
    """
    out = stream or sys.stdout
    width = max(len(n) for n in gallery.EXAMPLES)
    for name in gallery.EXAMPLES:
        print(f"{name:<{width}}  {gallery.describe(name)}", file=out)


def _traced_run(name: str) -> tuple[dict[str, Any], Trace]:
    """Run example ``name`` (seeded, verbose) inside a trace."""
    module = gallery.load(name)
    manual_seed(0)
    with trace() as t:
        result = module.run(verbose=True)
    if not isinstance(result, dict) or "graph" not in result:
        raise TypeError(f"explain: {gallery.EXAMPLES[name]}.run() must return a dict with a "
                        f"'graph' key, got {type(result).__name__}")
    return result, t


def _graph(result: dict[str, Any]) -> Any:
    return draw_graph(result["graph"], show_values=True, show_grads=True,
                      params=result.get("params"))


def explain(name: str, out_dir: Any = DEFAULT_OUT, format: Optional[str] = None,
            max_rows: Optional[int] = None, stream: Optional[TextIO] = None) -> Path:
    """Run example ``name`` inside a trace, print walkthrough and trace, save its graph.

    Args:
        name: a key of ``chainrule.gallery.EXAMPLES``.
        out_dir: folder for the picture (created).
        format: ``"png"``, ``"svg"``, ``"pdf"`` or ``"dot"``; default PNG where Graphviz's
            ``dot`` program is installed, else DOT.
        max_rows: print only the first rows of the trace.
        stream: where to print (default stdout).

    Returns:
        The path of the graph picture.

    Example:
        >>> import io, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = explain("gate", d, format="dot", stream=io.StringIO())
        ...     p.name
        'gate.dot'
    """
    out = stream or sys.stdout
    with contextlib.redirect_stdout(out):
        print(f"== {name}: {gallery.describe(name)}\n")
        result, t = _traced_run(name)
    print("\nforward and backward, step by step:\n", file=out)
    print(t.to_text(max_rows=max_rows), file=out)
    fmt = format or ("png" if dot_available() else "dot")
    path = save_graph(_graph(result), Path(out_dir) / f"{name}.{fmt}")
    print(f"\ngraph picture: {path}", file=out)
    if fmt == "dot" and format is None:
        print("(install Graphviz for a PNG: `apt-get install graphviz`)", file=out)
    return path


# ============================================================================ gallery pages
_HEADER = ("<!-- generated by `chainrule explain --docs docs/gallery` "
           "(python -m chainrule.cli.explain --docs docs/gallery): do not edit by hand -->\n")


def write_page(name: str, docs_dir: Any, max_rows: int = DOCS_MAX_ROWS) -> Path:
    """Write ``docs_dir/<name>.md`` and its graph picture ``docs_dir/img/<name>.png``.

    Args:
        name: a key of ``chainrule.gallery.EXAMPLES``.
        docs_dir: the gallery folder.
        max_rows: trace rows shown on the page (an example module may set DOCS_MAX_ROWS).

    Returns:
        The page's path.

    Raises:
        GraphvizUnavailableError: when Graphviz's ``dot`` program is not installed.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     if dot_available():
        ...         text = write_page("gate", d).read_text()
        ...     else:
        ...         text = "![computational graph of gate](img/gate.png)"
        ...     "](img/gate.png)" in text
        True
    """
    docs = Path(docs_dir)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result, t = _traced_run(name)
    module = gallery.load(name)
    max_rows = getattr(module, "DOCS_MAX_ROWS", max_rows)  # an example may want all its rows
    doc = (module.__doc__ or "").strip()
    title, _, body = doc.partition("\n")
    image = docs / "img" / f"{name}.png"
    _write_bytes(image, _compact_png(render_dot(_graph(result).source, "png")))
    lines = [_HEADER, f"# {name}: {_md_text(title.strip() or name)}\n"]
    if body.strip():
        lines.append(_md_text(body.strip("\n")) + "\n")
    lines += [f"Run it: `chainrule explain {name}` (source: `{module.__name__}`).\n",
              "## Walkthrough\n", "```text", buf.getvalue().rstrip(), "```\n",
              "## The graph\n",
              "Blue: inputs and parameters (with their gradients), yellow: operations, green: "
              "the output. Arrows follow the data, from inputs to output.\n",
              f"![computational graph of {escape_label(name)}](img/{image.name})\n",
              "## The backward trace\n",
              "Every forward op, then every backward step: the gradient arriving from above "
              "(upstream), the op's local derivative, and the gradient passed to each input "
              "(upstream x local).\n",
              t.to_markdown(max_rows=max_rows)]
    page = docs / f"{name}.md"
    _write_text(page, "\n".join(lines))
    return page


def _md_text(text: str) -> str:
    """Docstring text as Markdown: ``*`` escaped outside indented (code) lines, and reST's
    ``::`` before a literal block written as ``:``."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("    "):
            line = line.replace("*", "\\*")
            line = line[:-1] if line.endswith("::") else line
        lines.append(line)
    return "\n".join(lines)


def notebook(name: str) -> dict[str, Any]:
    """Example ``name`` as a Jupyter notebook (nbformat 4, no outputs): the page's text, and
    code cells that run the example in a trace, draw its graph and show the trace, which
    Jupyter renders inline (the graph as SVG, the trace as an HTML table).

    Args:
        name: a key of ``chainrule.gallery.EXAMPLES``.

    Returns:
        The notebook as a JSON-ready dict.

    Example:
        >>> nb = notebook("gate")
        >>> nb["nbformat"], [c["cell_type"] for c in nb["cells"]][:2]
        (4, ['markdown', 'code'])
    """
    module = gallery.load(name)
    doc = (module.__doc__ or "").strip()
    title, _, body = doc.partition("\n")

    def cell(kind: str, text: str) -> dict[str, Any]:
        c: dict[str, Any] = {"cell_type": kind, "metadata": {},
                             "source": text.strip("\n").splitlines(keepends=True)}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        return c

    intro = f"# {name}: {_md_text(title.strip() or name)}\n"
    if body.strip():
        intro += "\n" + _md_text(body.strip("\n")) + "\n"
    cells = [
        cell("markdown", intro + f"\nThe same as `chainrule explain {name}` and "
                                 f"[its page]({name}.md), cell by cell."),
        cell("code", "import chainrule as cr\nfrom chainrule import gallery\n"
                     "from chainrule.viz import draw_graph\n\n"
                     "cr.manual_seed(0)\n"
                     "with cr.trace() as t:  # records every forward op and backward step\n"
                     f"    result = gallery.load({name!r}).run(verbose=True)"),
        cell("markdown", "## The graph\n\nBlue: inputs and parameters (with their "
                         "gradients), yellow: operations, green: the output."),
        cell("code", 'draw_graph(result["graph"], show_values=True, show_grads=True,\n'
                     '           params=result.get("params"))'),
        cell("markdown", "## The backward trace\n\nEvery forward op, then every backward "
                         "step: the upstream gradient, the op's local derivative, and the "
                         "gradient passed to each input (upstream x local)."),
        cell("code", "t"),
    ]
    return {"cells": cells, "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python",
                               "name": "python3"},
                "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def write_notebook(name: str, docs_dir: Any) -> Path:
    """Write ``docs_dir/<name>.ipynb``, the notebook twin of the example's page.

    Args:
        name: a key of ``chainrule.gallery.EXAMPLES``.
        docs_dir: the gallery folder.

    Returns:
        The notebook's path.
    """
    path = Path(docs_dir) / f"{name}.ipynb"
    nb = notebook(name)
    for i, c in enumerate(nb["cells"]):  # nbformat 4.5 wants a stable id per cell
        c["id"] = f"{name}-{i}"
    _write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return path


def write_index(docs_dir: Any, pages: Sequence[str]) -> Path:
    """Write ``docs_dir/index.md`` linking the pages of the examples ``pages``.

    Args:
        docs_dir: the gallery folder.
        pages: the example names with a page.

    Returns:
        The index's path.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     last = write_index(d, ["gate"]).read_text().splitlines()[-1]
        >>> last.startswith("- [gate](gate.md) ([notebook](gate.ipynb)): The multiply gate")
        True
    """
    lines = [_HEADER, "# The gallery: backpropagation, worked examples\n",
             "Each page shows an example's walkthrough, its computational graph and the table "
             "of its forward and backward steps; each notebook runs the same in Jupyter. Run "
             "any of them with `chainrule explain NAME`.\n"]
    for name in pages:
        lines.append(f"- [{name}]({name}.md) ([notebook]({name}.ipynb)): "
                     f"{_md_text(gallery.describe(name))}")
    path = Path(docs_dir) / "index.md"
    _write_text(path, "\n".join(lines) + "\n")
    return path


def _write_text(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _compact_png(data: bytes, palettes: Sequence[int] = (64, 16),
                 enough: int = 150_000) -> bytes:
    """The PNG reduced to a palette of 64 colours (about 3x smaller; pictures of graphs have
    few colours), or of 16 for a large graph still over ``enough`` bytes, where Pillow is
    installed; else unchanged."""
    try:
        from PIL import Image
    except ImportError:
        return data
    small = data
    for colors in palettes:
        out = io.BytesIO()
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(
                out, "PNG", optimize=True)
        small = min(small, out.getvalue(), key=len)
        if len(small) <= enough:
            break
    return small


def write_docs(docs_dir: Any, names: Optional[Sequence[str]] = None,
               stream: Optional[TextIO] = None) -> int:
    """Write the gallery pages and the index; report failures per example.

    Args:
        docs_dir: the gallery folder (created).
        names: the examples (default all); the index lists all that have a page.
        stream: where to report (default stdout).

    Returns:
        0 when every page was written, 1 otherwise.

    Example:
        >>> import io, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     code = write_docs(d, ["gate"], stream=io.StringIO())
        >>> code == (0 if dot_available() else 1)
        True
    """
    out = stream or sys.stdout
    if not dot_available():
        print("explain --docs: the gallery pages need PNG pictures; install Graphviz's dot "
              "program (`apt-get install graphviz`)", file=sys.stderr)
        return 1
    status = 0
    for name in names or list(gallery.EXAMPLES):
        try:
            page = write_page(name, docs_dir)
            print(f"wrote {page} and {write_notebook(name, docs_dir)}", file=out)
        except (ImportError, GraphvizUnavailableError, TypeError, ValueError,
                RuntimeError) as e:
            print(f"explain --docs: skipped {name!r}: {type(e).__name__}: {e}", file=sys.stderr)
            status = 1
    done = [n for n in gallery.EXAMPLES if (Path(docs_dir) / f"{n}.md").exists()]
    print(f"wrote {write_index(docs_dir, done)}", file=out)
    return status


# ============================================================================ entry points
def _check_folder(parser: argparse.ArgumentParser, flag: str, folder: str) -> None:
    """Exit 2 with a usage message when ``folder`` (or the nearest part of it that exists) is
    not a folder, so that no example runs only to fail writing its output.

    Args:
        parser: the parser whose ``error`` reports the problem.
        flag: the option naming the folder (``--out``).
        folder: the folder to create or write into.

    Example:
        >>> import contextlib, io, os, tempfile
        >>> err = io.StringIO()
        >>> with tempfile.NamedTemporaryFile() as f, contextlib.redirect_stderr(err):
        ...     try:
        ...         _check_folder(build_parser(), "--out", os.path.join(f.name, "pics"))
        ...     except SystemExit as e:
        ...         print("exit", e.code)
        exit 2
        >>> "a file" in err.getvalue()
        True
    """
    problem = folder_problem(folder)
    if problem is not None:
        parser.error(f"{flag} {folder} {problem}")


def run(args: argparse.Namespace) -> int:
    """Run the ``explain`` subcommand with parsed ``args``; return the exit code.

    Args:
        args: from the parser of :func:`add_parser` or :func:`build_parser`.

    Returns:
        0 on success, 1 when the example fails or a picture cannot be made; bad arguments
        exit with code 2 and a usage message (``parser.error``).

    Example:
        >>> run(build_parser().parse_args(["--list"]))  # doctest: +ELLIPSIS
        shop ...
        0
    """
    parser = getattr(args, "_explain_parser", None) or build_parser()
    if args.list:
        list_examples()
        return 0
    if args.example is not None and args.example not in gallery.EXAMPLES:
        parser.error(f"unknown example {args.example!r}; choose from: "
                     f"{', '.join(gallery.EXAMPLES)} (see --list)")
    if args.max_rows < 0:
        parser.error(f"--max-rows must be 0 (all rows) or more, got {args.max_rows}")
    if args.docs is not None:
        _check_folder(parser, "--docs", args.docs)
        try:
            return write_docs(args.docs, [args.example] if args.example else None)
        except OSError as e:
            print(f"chainrule explain: cannot write the gallery pages into {args.docs}: {e}",
                  file=sys.stderr)
            return 1
    if args.example is None:
        parser.error(f"give an EXAMPLE ({', '.join(gallery.EXAMPLES)}) or --list")
    _check_folder(parser, "--out", args.out)
    try:
        explain(args.example, args.out, args.format, args.max_rows or None)
    except OSError as e:  # an unwritable --out (permissions, read-only file system)
        print(f"chainrule explain: cannot write the graph picture into {args.out}: {e}",
              file=sys.stderr)
        return 1
    except GraphvizUnavailableError as e:
        print(f"chainrule explain: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"chainrule explain: example {args.example!r} is not available: {e}",
              file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m chainrule.cli.explain [args]``: parse ``argv`` and run.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code.

    Example:
        >>> import io, contextlib
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["--list"])
        >>> code, out.getvalue().split()[0]
        (0, 'shop')
    """
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
