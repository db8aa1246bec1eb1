"""Toy datasets: truth tables, blob statistics, spiral geometry, determinism, argument checks."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.data.toy import blobs, logic_gate, spirals


@pytest.mark.parametrize("name, expected", [("AND", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]),
                                            ("Xor", [0, 1, 1, 0]), ("NAND", [1, 1, 1, 0])])
def test_logic_gates(name, expected):
    x, y = logic_gate(name)
    assert x.shape == (4, 2) and y.shape == (4, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    a, b = x[:, 0].astype(bool), x[:, 1].astype(bool)
    assert y.ravel().tolist() == expected
    truth = {"AND": a & b, "OR": a | b, "XOR": a ^ b, "NAND": ~(a & b)}[name.upper()]
    assert (y.ravel().astype(bool) == truth).all()


def test_unknown_gate():
    with pytest.raises(ValueError, match=r"unknown gate 'NOR'; expected one of \['AND', 'NAND', "
                                         r"'OR', 'XOR'\]"):
        logic_gate("NOR")


def test_blobs_statistics_and_determinism():
    centers = ((-3.0, 1.0), (2.0, 2.0), (0.0, -4.0))
    X, y = blobs(n_per_class=2000, centers=centers, std=0.5, seed=1)
    assert X.shape == (6000, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [2000, 2000, 2000]
    for k, c in enumerate(centers):
        np.testing.assert_allclose(X[y == k].mean(0), c, atol=0.05)
        np.testing.assert_allclose(X[y == k].std(0), [0.5, 0.5], atol=0.05)
    X2, y2 = blobs(n_per_class=2000, centers=centers, std=0.5, seed=1)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, blobs(n_per_class=2000, centers=centers, std=0.5, seed=2)[0])


def test_blobs_defaults_are_separable():
    X, y = blobs()
    assert X.shape == (200, 2)
    # The default clusters sit at (-2,-2) and (2,2): the sign of x0 + x1 separates nearly all.
    assert ((X.sum(1) > 0) == (y == 1)).mean() > 0.98


@pytest.mark.parametrize("kwargs, msg", [
    (dict(n_per_class=0), "n_per_class must be an int >= 1"),
    (dict(std=-1.0), "std must be finite and >= 0"),
    (dict(centers=[1, 2]), r"centers must be .* shape \(2,\)"),
])
def test_blobs_bad_args(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        blobs(**kwargs)


def test_spirals_geometry():
    X, y = spirals(n_per_class=100, n_classes=3, noise=0.0, seed=0)
    assert X.shape == (300, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100, 100]
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], np.linspace(0, 1, 100), atol=1e-6)
    # Without noise, arm k at radius 1 sits at angle 3*pi + 2*pi*k/3.
    for k in range(3):
        end = X[y == k][-1]
        angle = 3 * np.pi + 2 * np.pi * k / 3
        np.testing.assert_allclose(end, [np.cos(angle), np.sin(angle)], atol=1e-6)


def test_spirals_noise_and_seed():
    a, _ = spirals(noise=0.2, seed=3)
    b, _ = spirals(noise=0.2, seed=3)
    c, _ = spirals(noise=0.2, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.hypot(a[:, 0], a[:, 1]).max() <= 1.0 + 1e-6


@pytest.mark.parametrize("kwargs, msg", [(dict(n_classes=0), "n_classes must be an int >= 1"),
                                         (dict(noise=float("inf")), "noise must be finite"),
                                         (dict(n_per_class=2.5), "n_per_class must be an int")])
def test_spirals_bad_args(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        spirals(**kwargs)
