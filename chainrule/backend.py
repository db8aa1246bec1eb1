"""The array namespace: the one seam between chainrule and the hardware.

Every op gets its array functions from here. Today that is NumPy; a CuPy backend would
return ``cupy`` from :func:`get_array_module` for device arrays without touching the ops.
"""
from __future__ import annotations

from typing import Any

import numpy

xp = numpy
"""The default array namespace (NumPy)."""


def get_array_module(*arrays: Any) -> Any:
    """Return the array namespace that owns ``arrays`` (NumPy for now).

    Example:
        >>> import numpy as np
        >>> get_array_module(np.zeros(2)) is np
        True
    """
    return xp
