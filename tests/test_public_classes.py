"""Every public class honours the protocols it declares (issue 16.11): a Mapping's
keys/values/items/get, a Sized's len, an Iterable's iter, a Hashable's hash, an
``__array__``'s conversion, a readable repr. `adj.multipliers.values()` once failed
because an attribute named `values` shadowed Mapping.values."""

from __future__ import annotations

import inspect
from collections.abc import Container, Hashable, Iterable, Mapping, Sequence, Sized

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
import lagrad.optimize
import lagrad.scipy.stats
import lagrad.testing
import lagrad.tree
from tests.conftest import rand


def _system():
    return lagrad.adjoint(lambda x: lnp.sum(lagrad.tag(lnp.sin(x), "h") ** 2), rand(3))


def _error(cls):
    return cls("a message")


#: One instance of every public class, made as a user meets it.
INSTANCES = {
    lagrad.AdjointSystem: _system,
    lagrad.Block: lambda: _system().blocks()[0],
    lagrad.Multipliers: lambda: _system().multipliers,
    lagrad.SymbolicMatrix: lambda: _system().matrix(),
    lagrad.Sparsity: lambda: lagrad.sparsity(lnp.sin, rand(3)),
    lagrad.Plan: lambda: lagrad.plan(lnp.sin, rand(3)),
    lagrad.EliminationGraph: lambda: lagrad.elimination_graph(lnp.sin, rand(3)),
    lagrad.Program: lambda: _system().program,
    lagrad.Equation: lambda: _system().program.equations[0],
    lagrad.Primitive: lambda: _system().program.equations[0].primitive,
    lagrad.BranchError: lambda: _error(lagrad.BranchError),
    lagrad.TraceEnded: lambda: _error(lagrad.TraceEnded),
    lagrad.NotConvergedError: lambda: _error(lagrad.NotConvergedError),
    lagrad.SingularBlockError: lambda: _error(lagrad.SingularBlockError),
    lagrad.LazyComputeError: lambda: _error(lagrad.LazyComputeError),
    lagrad.testing.GradientCheckError: lambda: _error(lagrad.testing.GradientCheckError),
    lagrad.optimize.Stepper: lambda: lagrad.optimize.adam(),
    lagrad.Derivation: lambda: lagrad.derive(lambda x: (x * x).sum(), np.ones(2)),
    lagrad.tree.TreeDef: lambda: lagrad.tree_flatten({"a": [1.0, 2.0], "b": None})[1],
    # the results of traced calls (on plain arrays NumPy's own are returned)
    **{
        cls: (lambda cls=cls: cls(*(np.eye(2) for _ in cls._fields)))
        for cls in (
            lnp.linalg.EigResult,
            lnp.linalg.EighResult,
            lnp.linalg.SVDResult,
            lnp.linalg.QRResult,
            lnp.linalg.SlogdetResult,
            lnp.nondiff.UniqueAllResult,
            lnp.nondiff.UniqueCountsResult,
            lnp.nondiff.UniqueInverseResult,
        )
    },
    type(lagrad.scipy.stats.norm): lambda: lagrad.scipy.stats.norm,
    type(lagrad.scipy.stats.poisson): lambda: lagrad.scipy.stats.poisson,
    type(lagrad.scipy.stats.dirichlet): lambda: lagrad.scipy.stats.dirichlet,
    type(lagrad.scipy.stats.multivariate_normal): lambda: lagrad.scipy.stats.multivariate_normal,
}


def _public_classes():
    found = set()
    for module in (lagrad, lagrad.optimize, lagrad.testing, lagrad.tree):
        names = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        objects = [getattr(module, n) for n in names]
        found |= {obj for obj in objects if inspect.isclass(obj) and obj.__module__.startswith("lagrad")}
    return found


def test_every_public_class_has_an_instance_here():
    missing = {c.__qualname__ for c in _public_classes()} - {c.__qualname__ for c in INSTANCES}
    assert not missing, f"add an instance of {sorted(missing)} to INSTANCES"


def _check_mapping(m: Mapping) -> None:
    keys = list(m)
    assert list(m.keys()) == keys and len(m.keys()) == len(m) == len(keys)
    values = list(m.values())
    assert len(values) == len(keys) and all(v is m[k] for k, v in zip(keys, values))
    assert all(m[k] is v for k, v in m.items())
    assert all(k in m for k in keys) and object() not in m
    if keys:
        assert m.get(keys[0]) is m[keys[0]]
    assert m.get(object(), "absent") == "absent"
    assert m == m


def _check_sequence(s: Sequence) -> None:
    items = list(s)
    assert len(items) == len(s) and list(reversed(s)) == items[::-1]
    if items:
        assert s.index(items[0]) == 0 and items[0] in s  # found by identity, as for arrays in a tuple


@pytest.mark.parametrize("cls", list(INSTANCES), ids=lambda c: c.__qualname__)
def test_declared_protocols_are_honoured(cls):
    obj = INSTANCES[cls]()
    assert isinstance(obj, cls)
    assert isinstance(repr(obj), str) and repr(obj) and isinstance(str(obj), str)
    if isinstance(obj, Mapping):
        _check_mapping(obj)
    elif isinstance(obj, Sequence):
        _check_sequence(obj)
    if isinstance(obj, Sized):
        assert len(obj) >= 0
    if isinstance(obj, Iterable):
        list(iter(obj))
    if isinstance(obj, Container) and isinstance(obj, Iterable) and not isinstance(obj, tuple):
        assert all(x in obj for x in list(obj)[:3])
    if isinstance(obj, Hashable) and not isinstance(obj, tuple):  # a tuple hashes as its items do
        hash(obj)
    if hasattr(obj, "__array__"):
        assert isinstance(np.asarray(obj), np.ndarray)


def test_multipliers_values_are_the_lambdas():
    # issue 16.11: adj.multipliers.values() raised "'list' object is not callable"
    lam = _system().multipliers
    assert all(a is b for a, b in zip(lam.values(), lam.lambdas))
    assert dict(lam.items())[len(lam)] is lam.lambdas[-1]
    assert lam["h"] is lam.get("h")


def test_a_tree_definition_hashes_like_its_equals():
    a = lagrad.tree_flatten({"a": [1.0, 2.0]})[1]
    b = lagrad.tree_flatten({"a": [3.0, 4.0]})[1]
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
