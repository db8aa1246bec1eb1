"""Pictures of computational graphs: one node per op and per tensor, edges in data-flow order.

:func:`draw_graph` walks the graph behind some tensors (iteratively: a 10,000-op chain is no
problem) and returns a ``graphviz.Digraph`` (shown inline by Jupyter, ``.render()``-able), or,
when the ``graphviz`` Python package is missing, a :class:`DotGraph` with the same small API.
:func:`to_dot` gives the DOT text and never needs the package; :func:`save_graph` writes
``.dot`` always and ``.svg``/``.png``/``.pdf`` where the Graphviz ``dot`` program is installed.

Graphs already freed by a backward pass (no ``retain_graph``) are drawn too: their
intermediate tensors are metadata records, so they show shape and dtype but no values.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from ..autograd.tensor import Tensor, tensors_in
from ..io.files import write_atomic
from .format import format_dtype, format_shape, format_value

PathLike = Union[str, "os.PathLike[str]"]

TEXT_FORMATS = ("dot", "gv")
IMAGE_FORMATS = ("svg", "png", "pdf")

_INSTALL_HINT = ("the Graphviz 'dot' program is needed to render images; install it with "
                 "`apt-get install graphviz` (or `brew install graphviz`, or `conda install "
                 "graphviz`), and `pip install graphviz` for inline pictures in Jupyter. "
                 "Saving to a .dot file always works without it.")

# fill colours: parameters (leaves that require grad), constants, outputs, ops
_COLORS = {"param": "#cfe2f3", "const": "#eeeeee", "root": "#d9ead3", "op": "#fff2cc",
           "tensor": "#ffffff"}
_ID = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?))\Z")
_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


class GraphvizUnavailableError(RuntimeError):
    """Raised when an image is requested but the Graphviz ``dot`` program is not installed."""


# ============================================================================ DOT builder
@functools.lru_cache(maxsize=4096)  # attribute values repeat on every node
def _quote(text: str) -> str:
    """A DOT identifier or a double-quoted string (quotes inside are already escaped)."""
    if _ID.match(text) and text.lower() not in _KEYWORDS:
        return text
    return '"' + text + '"'


def escape_label(text: str) -> str:
    """Escape user text (a tensor name) for a DOT label: backslashes and double quotes.

    Args:
        text: any text.

    Returns:
        The text with ``\\`` and ``"`` escaped, safe to join with ``\\n`` line breaks.

    Example:
        >>> print(escape_label('say "hi"'))
        say \\"hi\\"
    """
    return text.replace("\\", "\\\\").replace('"', '\\"')


class DotGraph:
    """A minimal DOT builder with the part of ``graphviz.Digraph``'s API chainrule uses.

    :func:`draw_graph` returns one when the ``graphviz`` package is not installed; its
    ``source`` is plain DOT text, and :meth:`render` works where the ``dot`` program exists.

    Args:
        name: the graph's name.
        graph_attr: attributes of the whole graph (``rankdir``...).
        node_attr: default node attributes.
        edge_attr: default edge attributes.

    Example:
        >>> g = DotGraph()
        >>> g.node("a", label="x")
        >>> g.edge("a", "b")
        >>> print(g.source.replace(chr(9), "  "))
        digraph chainrule {
          a [label=x]
          a -> b
        }
        <BLANKLINE>
    """

    def __init__(self, name: str = "chainrule", graph_attr: Optional[dict] = None,
                 node_attr: Optional[dict] = None, edge_attr: Optional[dict] = None) -> None:
        self.name = name
        self.body: list[str] = []
        for kind, attrs in (("graph", graph_attr), ("node", node_attr), ("edge", edge_attr)):
            if attrs:
                self.body.append(f"\t{kind}{_attr_list(attrs)}")

    def node(self, name: str, label: Optional[str] = None, **attrs: str) -> None:
        """Add a node ``name`` with an optional ``label`` and DOT attributes."""
        if label is not None:
            attrs = {"label": label, **attrs}
        self.body.append(f"\t{_quote(name)}{_attr_list(attrs)}")

    def edge(self, tail_name: str, head_name: str, **attrs: str) -> None:
        """Add an edge ``tail_name -> head_name``."""
        self.body.append(f"\t{_quote(tail_name)} -> {_quote(head_name)}{_attr_list(attrs)}")

    @property
    def source(self) -> str:
        """The DOT text of the graph."""
        return f"digraph {_quote(self.name)} {{\n" + "\n".join(self.body) + "\n}\n"

    def __str__(self) -> str:
        return self.source

    def pipe(self, format: str = "svg") -> bytes:
        """Render with the ``dot`` program and return the bytes (``format``: svg, png, pdf)."""
        return render_dot(self.source, format)

    def render(self, filename: PathLike, format: Optional[str] = None) -> str:
        """Write the graph to ``filename`` (format from its suffix unless given); see
        :func:`save_graph`. Returns the path written."""
        return str(save_graph(self, filename, format=format))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                          **kwargs: Any) -> dict[str, str]:
        """Jupyter display: an SVG where ``dot`` exists, else the DOT text."""
        if shutil.which("dot"):
            return {"image/svg+xml": self.pipe("svg").decode("utf-8")}
        return {"text/plain": self.source}


def _attr_list(attrs: dict) -> str:
    if not attrs:
        return ""
    return " [" + " ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items()) + "]"


# ============================================================================ the walk
def _flatten(tensors: Iterable[Any], fn_name: str) -> list[Tensor]:
    """Tensors from arguments that may be Tensors or (nested) lists/tuples of them."""
    def refuse(item: Any) -> None:
        raise TypeError(f"{fn_name}: expected Tensors (or lists/tuples of Tensors), got "
                        f"{type(item).__name__}")

    out = tensors_in(list(tensors), refuse)
    if not out:
        raise ValueError(f"{fn_name}: expected at least one Tensor to draw")
    return out


def param_names(params: Any, fn_name: str = "draw_graph") -> dict[int, str]:
    """Map ``id(tensor) -> name`` from a Module, a dict of named tensors or named tensors.

    Args:
        params: an object with ``named_parameters()`` (a Module), a dict ``name -> Tensor``,
            a sequence of Tensors carrying ``.name``, or None.
        fn_name: the public function to name in errors.

    Returns:
        A dict from ``id`` of each tensor to its name.

    Example:
        >>> import chainrule as cr
        >>> w = cr.ones(2, requires_grad=True)
        >>> list(param_names({"fc.weight": w}).values())
        ['fc.weight']
    """
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
    elif isinstance(params, dict):
        items = list(params.items())
    elif isinstance(params, (list, tuple)):
        items = [(getattr(t, "name", None), t) for t in params]
    else:
        raise TypeError(f"{fn_name}: params must be a Module (with named_parameters()), a dict "
                        f"of name -> Tensor, or a list of Tensors with .name; got "
                        f"{type(params).__name__}")
    names: dict[int, str] = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn_name}: params[{name!r}] must be a Tensor, got "
                            f"{type(t).__name__}")
        if name:
            names[id(t)] = str(name)
    return names


def _tensor_key(t: Any) -> tuple:
    """Identity of a tensor node: (op, output index) for results, the object for leaves."""
    if t.grad_fn is not None:
        return ("out", id(t.grad_fn), t._out_idx)
    return ("leaf", id(t))


def _op_order(roots: list[Tensor]) -> list[Any]:
    """The ops behind ``roots``, producers before consumers (iterative post-order DFS)."""
    post: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(t.grad_fn, False) for t in reversed(roots)
                                     if t.grad_fn is not None]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            post.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for t in reversed(fn.inputs):  # reversed: input 0 is visited first
            if t is not None and t.grad_fn is not None and id(t.grad_fn) not in visited:
                stack.append((t.grad_fn, False))
    return post


def _simple(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str)) or (
        isinstance(v, tuple) and len(v) <= 6 and all(isinstance(u, (int, float)) for u in v))


def _op_params(fn: Any) -> list[str]:
    """Small constructor parameters of an op (``axes=(1,)``, ``c=2``) as label lines.

    Named tuples of settings (a conv's geometry) are shown field by field; arrays, saved
    state and unset (None) settings are left out. Lines are wrapped at about 30 characters.
    """
    parts = []
    for k, v in getattr(fn, "__dict__", {}).items():
        if k.startswith("_") or k == "saved_outputs":
            continue
        items = v._asdict().items() if hasattr(v, "_asdict") else [(k, v)]
        for name, value in items:
            if value is not None and _simple(value):
                text = f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"
                parts.append(text if len(text) <= 30 else text[:27] + "...")
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 1 + len(part) <= 30:
            lines[-1] += " " + part
        else:
            lines.append(part)
    return lines


class _Builder:
    """Turns the walk into nodes and edges on a graphviz.Digraph or a DotGraph."""

    def __init__(self, dot: Any, names: dict[int, str], show_values: bool, show_grads: bool,
                 max_elems: int, nohtml: Any) -> None:
        self.dot, self.names = dot, names
        self.show_values, self.show_grads, self.max_elems = show_values, show_grads, max_elems
        self.nohtml = nohtml
        self.ids: dict[tuple, str] = {}
        self.best: dict[tuple, Any] = {}  # the most informative object known for each key
        self.roots: set[tuple] = set()

    def offer(self, t: Any) -> None:
        """Remember ``t`` as the object for its key if it beats what is known (live > freed)."""
        key = _tensor_key(t)
        if key not in self.best or (isinstance(t, Tensor) and
                                    not isinstance(self.best[key], Tensor)):
            self.best[key] = t

    def label(self, *lines: str) -> Any:
        text = "\\n".join(line for line in lines if line)
        return self.nohtml(text) if self.nohtml else text

    def tensor_node(self, key: tuple) -> str:
        if key in self.ids:
            return self.ids[key]
        node_id = f"t{len(self.ids)}"
        self.ids[key] = node_id
        t = self.best[key]
        live = isinstance(t, Tensor)
        name = self.names.get(id(t)) if live else None
        name = name or getattr(t, "name", None)
        lines = [escape_label(name) if name else "",
                 f"{format_shape(t.shape)} {format_dtype(t.dtype)}"]
        if self.show_values and live:
            lines.append("value " + format_value(t, self.max_elems, with_shape=False))
        if self.show_grads and live and t.grad is not None:
            lines.append("grad " + format_value(t.grad, self.max_elems, with_shape=False))
        if key in self.roots:
            kind = "root"
        elif t.grad_fn is not None:
            kind = "tensor"
        else:
            kind = "param" if t.requires_grad else "const"
        self.dot.node(node_id, label=self.label(*lines), shape="box", style="rounded,filled",
                      fillcolor=_COLORS[kind])
        return node_id

    def op_node(self, fn: Any, index: int) -> str:
        node_id = f"op{index}"
        params = [] if getattr(fn, "_freed", False) else _op_params(fn)
        self.dot.node(node_id, label=self.label(type(fn).__name__,
                                                *(escape_label(p) for p in params)),
                      shape="ellipse", style="filled", fillcolor=_COLORS["op"],
                      tooltip=fn.name())
        return node_id


def _populate(dot: Any, roots: list[Tensor], names: dict[int, str], show_values: bool,
              show_grads: bool, max_elems: int, nohtml: Any = None) -> None:
    b = _Builder(dot, names, show_values, show_grads, max_elems, nohtml)
    order = _op_order(roots)
    for t in roots:
        b.offer(t)
        b.roots.add(_tensor_key(t))
    for fn in order:
        for t in fn.inputs:
            if t is not None:
                b.offer(t)
        for i, ref in enumerate(fn.outputs):
            out = ref()
            if out is not None:
                b.offer(out)
    for index, fn in enumerate(order):
        in_ids = [b.tensor_node(_tensor_key(t)) for t in fn.inputs if t is not None]
        op_id = b.op_node(fn, index)
        for tid in in_ids:
            dot.edge(tid, op_id)
        for i in range(len(fn.outputs)):
            key = ("out", id(fn), i)
            if key in b.best:
                dot.edge(op_id, b.tensor_node(key))
    for t in roots:  # leaves drawn for themselves
        b.tensor_node(_tensor_key(t))


_GRAPH_ATTR = {"fontsize": "11"}
_NODE_ATTR = {"fontsize": "11", "height": "0.3"}


def to_dot(*tensors: Any, show_values: bool = False, show_grads: bool = False,
           params: Any = None, rankdir: str = "TB", max_elems: int = 6) -> str:
    """The DOT text of the graph behind ``tensors``; needs neither graphviz nor ``dot``.

    Args:
        *tensors: the output Tensors (or lists of them) whose computation to draw.
        show_values: add each tensor's numbers (a summary for large tensors).
        show_grads: add each tensor's ``.grad`` where it has one.
        params: a Module, a dict ``name -> Tensor`` or a list of named Tensors, to name the
            parameters (``conv1.weight``); tensors' own ``.name`` is used too.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        max_elems: tensors with at most this many elements show their values in full.

    Returns:
        The DOT source, nodes and edges in data-flow order (inputs -> op -> output).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(2.0, requires_grad=True); x.name = "x"
        >>> src = to_dot(x * x)
        >>> "Mul" in src and "t0 -> op0" in src and "op0 -> t1" in src
        True
    """
    roots = _flatten(tensors, "to_dot")
    _check_rankdir(rankdir, "to_dot")
    dot = DotGraph(graph_attr={"rankdir": rankdir, **_GRAPH_ATTR}, node_attr=_NODE_ATTR)
    _populate(dot, roots, param_names(params, "to_dot"), show_values, show_grads, max_elems)
    return dot.source


def _check_rankdir(rankdir: str, fn_name: str) -> None:
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"{fn_name}: rankdir must be one of 'TB', 'LR', 'BT', 'RL'; got "
                         f"{rankdir!r}")


def draw_graph(*tensors: Any, show_values: bool = False, show_grads: bool = False,
               params: Any = None, rankdir: str = "TB", max_elems: int = 6) -> Any:
    """Draw the computation that produced ``tensors``: one node per op and per tensor.

    Tensor nodes show the name (from ``params`` or the tensor's ``.name``), shape and dtype;
    parameters are blue, constants grey, the outputs green; op nodes (yellow) show the op and
    its settings. Edges go in data-flow order: inputs -> op -> output.

    Args:
        *tensors: the output Tensors (or lists of them) whose computation to draw.
        show_values: add each tensor's numbers (small tensors in full, else mean, std, min,
            max). Tensors freed by a backward pass without ``retain_graph`` have none.
        show_grads: add each tensor's ``.grad`` where it has one.
        params: a Module, a dict ``name -> Tensor`` or a list of named Tensors.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        max_elems: tensors with at most this many elements show their values in full.

    Returns:
        A ``graphviz.Digraph`` (Jupyter shows it inline; ``.source`` is the DOT text), or a
        :class:`DotGraph` with the same ``source``/``render``/``pipe`` when the ``graphviz``
        package is not installed. Save it with :func:`save_graph`.

    Example:
        >>> import chainrule as cr
        >>> a = cr.tensor(3.0, requires_grad=True); a.name = "a"
        >>> g = draw_graph(a * 2 + 1, show_values=True)
        >>> "value 7" in g.source and "Add" in g.source
        True
    """
    roots = _flatten(tensors, "draw_graph")
    _check_rankdir(rankdir, "draw_graph")
    names = param_names(params, "draw_graph")
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is None:
        dot: Any = DotGraph(graph_attr={"rankdir": rankdir, **_GRAPH_ATTR},
                            node_attr=_NODE_ATTR)
        nohtml = None
    else:
        dot = graphviz.Digraph("chainrule", graph_attr={"rankdir": rankdir, **_GRAPH_ATTR},
                               node_attr=_NODE_ATTR)
        nohtml = graphviz.nohtml
    _populate(dot, roots, names, show_values, show_grads, max_elems, nohtml)
    return dot


# ============================================================================ output
def dot_available() -> bool:
    """True when the Graphviz ``dot`` program is installed (images can be rendered).

    Returns:
        Whether ``dot`` is on the PATH.

    Example:
        >>> isinstance(dot_available(), bool)
        True
    """
    return shutil.which("dot") is not None


def render_dot(source: str, format: str = "svg", dpi: Optional[int] = None) -> bytes:
    """Render DOT text to an image with the ``dot`` program.

    Args:
        source: DOT text.
        format: ``"svg"``, ``"png"`` or ``"pdf"``.
        dpi: resolution of a PNG (Graphviz's default is 96); lower gives smaller files.

    Returns:
        The image's bytes.

    Raises:
        GraphvizUnavailableError: when ``dot`` is not installed.
        ValueError: for another format.

    Example:
        >>> svg = render_dot("digraph { a -> b }") if dot_available() else b"<svg"
        >>> svg.lstrip().startswith((b"<?xml", b"<svg"))
        True
    """
    if format not in IMAGE_FORMATS:
        raise ValueError(f"render_dot: format must be one of {IMAGE_FORMATS}, got {format!r}")
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizUnavailableError(f"render_dot: cannot render {format!r}: {_INSTALL_HINT}")
    if dpi is not None and (not isinstance(dpi, int) or dpi <= 0):
        raise ValueError(f"render_dot: dpi must be a positive int, got {dpi!r}")
    args = [exe, f"-T{format}"] + ([f"-Gdpi={dpi}"] if dpi else [])
    proc = subprocess.run(args, input=source.encode("utf-8"),
                          capture_output=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"render_dot: dot failed with exit code {proc.returncode}: "
                           f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout


def save_graph(graph: Any, path: PathLike, format: Optional[str] = None,
               dpi: Optional[int] = None) -> Path:
    """Save a graph picture, choosing the format from the file's suffix.

    ``.dot``/``.gv`` write the DOT text and always work; ``.svg``, ``.png`` and ``.pdf`` need
    the Graphviz ``dot`` program. The file is written atomically (temp file, then rename).

    Args:
        graph: what :func:`draw_graph` returned (a ``graphviz.Digraph`` or a
            :class:`DotGraph`), or DOT text.
        path: the file to write; parent folders are created.
        format: the format, overriding the suffix (``"dot"``, ``"svg"``, ``"png"``, ``"pdf"``).
        dpi: resolution of a PNG (Graphviz's default is 96).

    Returns:
        The path written.

    Raises:
        ValueError: for an unknown format or suffix.
        GraphvizUnavailableError: for an image format when ``dot`` is not installed.

    Example:
        >>> import tempfile, os, chainrule as cr
        >>> x = cr.tensor(1.0, requires_grad=True)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = save_graph(draw_graph(x.exp()), os.path.join(d, "g.dot"))
        ...     p.read_text().startswith("digraph")
        True
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in TEXT_FORMATS + IMAGE_FORMATS:
        raise ValueError(f"save_graph: cannot tell the format of {str(path)!r}: use a suffix "
                         f"(or format=) among {TEXT_FORMATS + IMAGE_FORMATS}")
    if isinstance(graph, str):
        source = graph
    elif hasattr(graph, "source"):
        source = graph.source
    else:
        raise TypeError(f"save_graph: expected a graph from draw_graph or DOT text, got "
                        f"{type(graph).__name__}")
    if fmt in TEXT_FORMATS:
        data = source.encode("utf-8")
    else:
        if not dot_available():
            raise GraphvizUnavailableError(
                f"save_graph: cannot write {str(path)!r}: {_INSTALL_HINT}")
        data = render_dot(source, fmt, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return path
