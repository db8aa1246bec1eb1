"""torchvision's ``transforms`` (v1): ToTensor, Normalize, ConvertImageDtype, Compose, Lambda.

chainrule has no PIL: an image is a NumPy array (or a Tensor), ``(H, W)`` or ``(H, W, C)``,
as ``numpy.asarray(pil_image)`` gives, and :class:`ToTensor` turns it into a ``(C, H, W)``
Tensor as torchvision's does. Decoding and resampling (Resize, crops, PIL conversions) are
not here.

Besides calling a transform on one item, the datasets of :mod:`chainrule.vision.datasets` can
apply ToTensor, Normalize, ConvertImageDtype, the batch-safe ``chainrule.data.transforms`` and
a Compose of those to a whole batch at once, with the same values, for the DataLoader's fast
path; any other transform (a Lambda) runs item by item.

Example:
    >>> import numpy as np
    >>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    >>> t(np.array([[0, 255]], np.uint8))
    tensor([[[-1.,  1.]]])
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..data import transforms as array_transforms
from ..nn.module import Module

BatchFn = Callable[[np.ndarray], np.ndarray]


def _image_array(pic: Any, op: str) -> np.ndarray:
    """The ndarray of an image given as an ndarray or a Tensor (detached, not copied)."""
    if isinstance(pic, Tensor):
        return pic.detach().numpy()
    if isinstance(pic, np.ndarray):
        return pic
    raise TypeError(f"{op}: pic should be an ndarray or a Tensor of shape (H, W) or (H, W, C) "
                    f"(chainrule has no PIL images), got {type(pic).__name__}")


def _to_chw(pics: np.ndarray, lead: int) -> np.ndarray:
    """``(*lead, H, W)`` or ``(*lead, H, W, C)`` -> ``(*lead, C, H, W)``, uint8 scaled to [0, 1].

    ``lead`` is 0 for one image, 1 for a batch. Other dtypes keep their values and dtype.
    """
    if pics.ndim - lead not in (2, 3):
        raise ValueError(f"ToTensor: pic should be 2/3 dimensional (H, W) or (H, W, C), got "
                         f"{pics.ndim - lead} dimensions (shape {pics.shape[lead:]})")
    if pics.ndim - lead == 2:
        chw = pics[..., None, :, :]  # (..., H, W) -> (..., 1, H, W)
    else:
        chw = np.moveaxis(pics, -1, -3)  # (..., H, W, C) -> (..., C, H, W)
    chw = np.ascontiguousarray(chw)
    if chw.dtype != np.uint8:
        return chw
    out = chw.astype(np.float32)
    out /= np.float32(255.0)  # torchvision: img.to(float32).div(255)
    return out


class ToTensor:
    """Convert an image ``(H, W)`` or ``(H, W, C)`` to a Tensor ``(C, H, W)``, as torchvision's.

    uint8 pixels become float32 in ``[0, 1]`` (divided by 255); any other dtype keeps its
    values and dtype (float input is not rescaled). A 2-D image gets one channel.

    Differences from torchvision: the input is an ndarray or a Tensor (there is no PIL), and a
    Tensor input is accepted (torchvision refuses it).

    Shape:
        Input ``(H, W)`` or ``(H, W, C)``; output ``(C, H, W)`` (``C = 1`` for 2-D input).

    Example:
        >>> import numpy as np
        >>> x = ToTensor()(np.array([[0, 51], [204, 255]], np.uint8))
        >>> x.shape, x.dtype, x.numpy().ravel().tolist()
        ((1, 2, 2), dtype('float32'), [0.0, 0.20000000298023224, 0.800000011920929, 1.0])
    """

    def __call__(self, pic: Any) -> Tensor:
        return Tensor(_to_chw(_image_array(pic, "ToTensor"), lead=0))

    def _batched(self, pics: np.ndarray) -> np.ndarray:
        """A batch ``(N, H, W)`` or ``(N, H, W, C)`` -> ``(N, C, H, W)``."""
        return _to_chw(pics, lead=1)

    def __repr__(self) -> str:
        return "ToTensor()"


def _check_float_image(dtype: np.dtype, shape: tuple[int, ...], op: str) -> None:
    if dtype.kind != "f":
        raise TypeError(f"{op}: input tensor should be a float tensor, got {dtype}; apply "
                        "ToTensor() or ConvertImageDtype(float32) first")
    if len(shape) < 3:
        raise ValueError(f"{op}: expected a tensor image of size (..., C, H, W), got shape "
                         f"{shape}")


class Normalize(Module):
    """Normalize a float image per channel: ``out[c] = (x[c] - mean[c]) / std[c]``.

    As torchvision's (an ``nn.Module``): the input is a float Tensor ``(..., C, H, W)``,
    ``mean`` and ``std`` are one number per channel (or one number for all), cast to the
    input's dtype; the input is left untouched unless ``inplace=True``. Differentiable.

    Args:
        mean: the per-channel means (a sequence, or a number).
        std: the per-channel standard deviations; none may be 0 in the input's dtype.
        inplace: normalize the input tensor itself (``sub_`` then ``div_``).

    Shape:
        Input ``(..., C, H, W)``, output the same.

    Example:
        >>> import chainrule as cr
        >>> Normalize((0.5, 1.0), (0.25, 2.0))(cr.ones(2, 1, 2))
        tensor([[[2., 2.]],
        <BLANKLINE>
                [[0., 0.]]])
    """

    def __init__(self, mean: Union[float, Sequence[float]], std: Union[float, Sequence[float]],
                 inplace: bool = False) -> None:
        super().__init__()
        self.mean, self.std, self.inplace = mean, std, inplace

    def _stats(self, dtype: np.dtype, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """mean and std in ``dtype``: shape ``(C, 1, 1)`` (one per channel) or ``()``."""
        _check_float_image(dtype, shape, "Normalize")
        mean, std = np.asarray(self.mean, dtype=dtype), np.asarray(self.std, dtype=dtype)
        if np.any(std == 0):
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {dtype}, "
                             "leading to division by zero")
        for name, value in (("mean", mean), ("std", std)):
            if value.ndim > 1 or value.size not in (1, shape[-3]):
                raise OpError(f"Normalize: {name} has {value.size} values but the image has "
                              f"{shape[-3]} channels (shape {shape}, channels at dim -3); give "
                              "one value per channel")
        # (C,) -> (C, 1, 1): one value per channel, broadcast over H and W
        return (mean.reshape(-1, 1, 1) if mean.ndim == 1 else mean,
                std.reshape(-1, 1, 1) if std.ndim == 1 else std)

    def forward(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: img should be a Tensor image, got "
                            f"{type(tensor).__name__}; apply ToTensor() first")
        mean, std = self._stats(tensor.dtype, tensor.shape)
        if self.inplace:
            return tensor.sub_(Tensor(mean)).div_(Tensor(std))
        return (tensor - Tensor(mean)) / Tensor(std)

    def _batched(self, x: np.ndarray) -> np.ndarray:
        """A batch ``(N, ..., C, H, W)``: the same formula in the input's dtype."""
        mean, std = self._stats(x.dtype, x.shape[1:])
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def _max_value(dtype: np.dtype) -> int:
    """torchvision's ``_max_value``: the largest value of an integer dtype, 1 otherwise."""
    return int(np.iinfo(dtype).max) if dtype.kind in "iu" else 1


def _convert_dtype(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """torchvision's ``convert_image_dtype`` on an array: rescale between value ranges."""
    src, target_float = image.dtype, dtype.kind == "f"
    if src.kind == "f":
        if target_float:
            return image.astype(dtype)
        if (src == np.float32 and dtype in (np.int32, np.int64)) or (
                src == np.float64 and dtype == np.int64):
            raise OpError(f"ConvertImageDtype: the cast from {src} to {dtype} cannot be "
                          "performed safely")
        # [0, 1] -> [0, max]: max + 1 - eps spreads the floats evenly over the integers
        scale = src.type(float(_max_value(dtype)) + 1.0 - 1e-3)
        return (image * scale).astype(dtype)
    input_max = _max_value(src)
    if target_float:
        return image.astype(dtype) / dtype.type(input_max)
    output_max = _max_value(dtype)
    if input_max > output_max:
        return np.floor_divide(image, (input_max + 1) // (output_max + 1)).astype(dtype)
    return image.astype(dtype) * ((output_max + 1) // (input_max + 1))


class ConvertImageDtype(Module):
    """Convert an image Tensor to ``dtype``, rescaling its values, as torchvision's.

    Integers span ``[0, max]`` of their dtype, floats ``[0, 1]``: uint8 to float32 divides by
    255, float to uint8 multiplies by ``255.999`` and truncates, integer to integer shifts;
    float to float only casts (and is differentiable).

    Args:
        dtype: the dtype of the result (``chainrule.float32``, ``chainrule.uint8``, ...).

    Shape:
        Any shape; the output has the input's.

    Example:
        >>> import chainrule as cr
        >>> ConvertImageDtype(cr.uint8)(cr.tensor([0.0, 0.5, 1.0]))
        tensor([  0, 127, 255], dtype=uint8)
    """

    def __init__(self, dtype: Any) -> None:
        super().__init__()
        self.dtype = np.dtype(dtype)

    def forward(self, image: Tensor) -> Tensor:
        if not isinstance(image, Tensor):
            raise TypeError(f"ConvertImageDtype: input img should be a Tensor image, got "
                            f"{type(image).__name__}")
        if image.dtype == self.dtype:
            return image
        if image.dtype.kind == "f" and self.dtype.kind == "f":
            return image.to(self.dtype)  # differentiable
        return Tensor(_convert_dtype(image.detach().numpy(), self.dtype))

    def _batched(self, x: np.ndarray) -> np.ndarray:
        return x if x.dtype == self.dtype else _convert_dtype(x, self.dtype)

    def __repr__(self) -> str:
        return "ConvertImageDtype()"


class Compose(array_transforms.Compose):
    """Apply transforms one after another, as torchvision's ``Compose``.

    Args:
        transforms: the callables, applied in order.

    Example:
        >>> import numpy as np
        >>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
        >>> t(np.full((2, 2), 255, np.uint8)).numpy().tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
        >>> print(t)
        Compose(
            ToTensor()
            Normalize(mean=(0.5,), std=(0.5,))
        )
    """

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class Lambda:
    """Apply a user function as a transform, as torchvision's ``Lambda``.

    Args:
        lambd: the function, called with the image (or the target).

    Example:
        >>> import chainrule as cr
        >>> one_hot = Lambda(lambda y: cr.eye(3)[y])
        >>> one_hot(1), one_hot
        (tensor([0., 1., 0.]), Lambda())
    """

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got "
                            f"{type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def batch_form(transform: Optional[Callable[[Any], Any]]) -> Optional[BatchFn]:
    """The transform applied to a whole batch at once, or None when it only works per item.

    ``batch_form(t)(np.stack(items))`` equals ``np.stack([t(i) for i in items])``, as an
    ndarray. Known: None (identity), ToTensor, Normalize, ConvertImageDtype, a
    ``chainrule.data.transforms`` transform marked ``batch_safe``, and a Compose of those.

    Example:
        >>> import numpy as np
        >>> batch_form(Compose([ToTensor()]))(np.zeros((5, 28, 28), np.uint8)).shape
        (5, 1, 28, 28)
        >>> batch_form(Lambda(lambda x: x)) is None
        True
    """
    if transform is None:
        return lambda x: x
    if isinstance(transform, array_transforms.Compose):
        steps = [batch_form(t) for t in transform.transforms]
        if any(step is None for step in steps):
            return None
        return lambda x: _chain(steps, x)
    batched = getattr(transform, "_batched", None)
    if isinstance(transform, (ToTensor, Normalize, ConvertImageDtype)) and callable(batched):
        return batched
    if getattr(transform, "batch_safe", False):
        return lambda x: np.asarray(transform(x))
    return None


def _chain(steps: Sequence[BatchFn], x: np.ndarray) -> np.ndarray:
    for step in steps:
        x = step(x)
    return x
