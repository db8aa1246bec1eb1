"""Export to ONNX: ``chainrule.onnx.export(model, args, f, ...)``, as ``torch.onnx.export``.

The model's forward pass is recorded, each Function is mapped to ONNX ops by the table in
:mod:`chainrule.onnx.converters`, parameters and buffers become initializers named by their
``state_dict`` names, and the file is checked (``onnx.checker``) and written atomically.
``onnx`` (and ``onnxruntime``, to run the file) are the optional extra ``chainrule[onnx]``,
imported only when exporting; ``import chainrule`` does not import this package.
See ``docs/onnx.md`` for the supported ops and how tracing works.
"""
from .converters import CONVERTERS, register, supported_ops
from .export import SUPPORTED_OPSETS, export
from .graph import ExportError

__all__ = ["export", "ExportError", "CONVERTERS", "register", "supported_ops",
           "SUPPORTED_OPSETS"]
