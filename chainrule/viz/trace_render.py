"""The trace's rows as tables and documents: plain text, Markdown and JSON.

A :class:`~chainrule.viz.trace.Trace` records rows (:class:`~chainrule.viz.trace.TraceRow`);
these functions only read them, with their labels and local derivatives already settled by
the trace (its ``to_text``, ``to_markdown``, ``to_dict`` and ``to_json`` call them).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional, Sequence

from .format import format_shape, truncate

if TYPE_CHECKING:  # the rows' types, for annotations only: trace.py imports this module
    from .trace import TraceRow

COLUMNS = ("step", "phase", "op", "inputs", "output", "upstream grad", "local derivative",
           "grad to inputs", "note")
"""The columns of the trace table."""


def cells(row: "TraceRow") -> list[list[str]]:
    """The table cells of ``row``, one list of lines per column of :data:`COLUMNS`.

    A forward row fills step, phase, op, inputs and output; a backward row the op (with the
    step it differentiates), its inputs, the upstream gradient, one local derivative and one
    gradient per input, and its notes.
    """
    in_cell = [f"{t.label} {format_shape(t.shape)}" for t in row.inputs if t is not None]
    if row.phase == "forward":
        out_cell = [f"{o.label} = {o.text}" for o in row.outputs]
        return [[str(row.step)], [row.phase], [row.op], in_cell, out_cell, [], [], [], []]
    op = row.op + (f" (of {row.forward_step})" if row.forward_step else "")
    upstream = [u.text if u is not None else "-" for u in row.upstream]
    local, grads = [], []
    locs = row.local or [None] * len(row.inputs)
    for i, (t, g, loc) in enumerate(zip(row.inputs, row.grads, locs)):
        if t is None:
            continue
        local.append(loc if loc is not None else f"{t.label}: no gradient needed")
        unused = g is not None and i < len(row.needs_grad) and not row.needs_grad[i]
        grads.append(f"{t.label}: {g.text if g is not None else '-'}"
                     + (" (not needed, dropped)" if unused else ""))
    return [[str(row.step)], [row.phase], [op], in_cell, [], upstream, local, grads,
            list(row.notes)]


def table(rows: Sequence["TraceRow"], max_rows: Optional[int] = None
          ) -> tuple[list[str], list[list[list[str]]]]:
    """The header and cells of the first ``max_rows`` rows (all by default), without the
    columns that are empty everywhere."""
    shown = [cells(r) for r in rows[:max_rows]]
    keep = [j for j in range(len(COLUMNS)) if j < 3 or any(r[j] for r in shown)]
    return [COLUMNS[j] for j in keep], [[r[j] for j in keep] for r in shown]


def text(rows: Sequence["TraceRow"], max_rows: Optional[int] = None,
         max_width: int = 72) -> str:
    """The rows as a plain-text table; every line of a cell cut to ``max_width`` characters,
    and a last line saying how many rows beyond ``max_rows`` were left out."""
    header, shown = table(rows, max_rows)
    if not shown:
        return "(empty trace)"
    shown = [[[truncate(line, max_width) for line in cell] for cell in r] for r in shown]
    widths = [max([len(h)] + [len(line) for r in shown for line in r[j]])
              for j, h in enumerate(header)]
    sep = " | "
    out = [sep.join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    for r in shown:
        height = max(1, *(len(c) for c in r))
        for k in range(height):
            out.append(sep.join((c[k] if k < len(c) else "").ljust(w)
                                for c, w in zip(r, widths)).rstrip())
    more = len(rows) - len(shown)
    if more > 0:
        out.append(f"... {more} more rows")
    return "\n".join(out)


def markdown(rows: Sequence["TraceRow"], max_rows: Optional[int] = None) -> str:
    """The rows as a Markdown table (the lines of a cell joined by ``<br>``)."""
    header, shown = table(rows, max_rows)
    if not shown:
        return "*(empty trace)*\n"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in shown:
        lines.append("| " + " | ".join("<br>".join(_md_escape(line) for line in cell)
                                       for cell in r) + " |")
    more = len(rows) - len(shown)
    if more > 0:
        lines.append(f"\n*... {more} more rows*")
    return "\n".join(lines) + "\n"


def html(rows: Sequence["TraceRow"], max_rows: Optional[int] = None) -> str:
    """The rows as an HTML table (Jupyter's rendering of a trace): one ``<tr>`` per row, the
    lines of a cell joined by ``<br>``, every text escaped."""
    import html as _html

    header, shown = table(rows, max_rows)
    if not shown:
        return "<p><em>(empty trace)</em></p>"
    head = "".join(f"<th>{_html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join("<td>" + "<br>".join(_html.escape(line) for line in cell) + "</td>"
                         for cell in r) + "</tr>" for r in shown)
    more = len(rows) - len(shown)
    tail = f"<p><em>... {more} more rows</em></p>" if more > 0 else ""
    return (f'<table class="chainrule-trace"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{tail}")


def document(rows: Sequence["TraceRow"]) -> dict[str, Any]:
    """All rows as one JSON-ready dict: ``{"format": "chainrule.trace", "version": 1,
    "rows": [...]}``."""
    out = []
    for r in rows:
        d: dict[str, Any] = {
            "step": r.step, "phase": r.phase, "op": r.op,
            "inputs": [None if t is None else t.to_dict() for t in r.inputs],
            "outputs": [o.to_dict() for o in r.outputs]}
        if r.phase == "backward":
            d.update({
                "forward_step": r.forward_step, "backward_pass": r.backward_pass,
                "upstream": [None if g is None else g.to_dict() for g in r.upstream],
                "grads": [None if g is None else g.to_dict() for g in r.grads],
                "local_derivatives": list(r.local), "notes": list(r.notes),
                "needs_grad": list(r.needs_grad),
                "inner_ops": list(r.inner_ops)})
        out.append(d)
    return {"format": "chainrule.trace", "version": 1, "rows": out}


def json_text(rows: Sequence["TraceRow"], indent: Optional[int] = 2) -> str:
    """:func:`document` as strict JSON (no NaN or inf literals)."""
    return json.dumps(document(rows), indent=indent, allow_nan=False)


def _md_escape(text: str) -> str:
    """Escape a table cell: pipes split cells, ``*`` pairs italicise, ``<`` opens HTML."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
            .replace("<", "&lt;").replace(">", "&gt;"))
