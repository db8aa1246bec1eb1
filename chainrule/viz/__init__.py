"""See backpropagation: graph pictures, backward traces and plots.

- :func:`draw_graph` / :func:`to_dot` / :func:`save_graph`: the computational graph behind
  some tensors, as a graphviz picture or DOT text.
- :func:`trace` (also ``chainrule.trace``): the forward and backward of a block as a table.
- :func:`plot_activations`, :func:`plot_curves`, :func:`plot_confusion_matrix`: matplotlib
  figures (matplotlib and graphviz are imported only when used).
"""
from .graph import (DotGraph, GraphvizUnavailableError, dot_available, draw_graph, render_dot,
                    save_graph, to_dot)
from .plots import (activation_curves, plot_activations, plot_confusion_matrix, plot_curves,
                    save_figure)
from .trace import Trace, TraceRow, TensorInfo, trace

__all__ = ["draw_graph", "to_dot", "save_graph", "render_dot", "dot_available", "DotGraph",
           "GraphvizUnavailableError", "trace", "Trace", "TraceRow", "TensorInfo",
           "activation_curves", "plot_activations", "plot_curves", "plot_confusion_matrix",
           "save_figure"]
