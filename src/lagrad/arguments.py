"""What the transforms accept as a function, its arguments and its outputs (a scalar for grad, a
cotangent or tangent shaped like the output or the primals), and how they refuse the rest.

Every check raises an error naming the transform (``lagrad.grad: ...``) and the fix; none
of it is needed to differentiate, so it lives apart from the trace-seed-solve steps.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import Trace, Var
from .core.backend import namespace_of, numpy_dtype
from .core.program import Constant
from .tree import tree_flatten

Fun = Callable[..., Any]
ArgNums = int | Sequence[int]


def _is_int(a: Any) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _argnums(argnums: ArgNums | None, nargs: int, who: str) -> tuple[tuple[int, ...], bool]:
    if argnums is None:
        return tuple(range(nargs)), False
    single = _is_int(argnums)
    if not single and not (isinstance(argnums, (tuple, list)) and all(_is_int(a) for a in argnums)):
        raise TypeError(f"lagrad.{who}: argnums must be an int or a tuple of ints, not {argnums!r}")
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    out = []
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"lagrad.{who}: argnums={argnums!r}, but the function was given {nargs} arguments")
        out.append(a % nargs)
    if len(set(out)) != len(out):
        raise ValueError(
            f"lagrad.{who}: argnums={argnums!r} names an argument twice; each argument is one input, "
            f"so name it once and reuse its gradient"
        )
    return tuple(out), single


def _check_callable(fun: Any, who: str) -> None:
    if not callable(fun):
        raise TypeError(f"lagrad.{who}: the first argument must be the function to differentiate, not {fun!r}")


def _input_value(leaf: Any, who: str, where: str) -> Any:
    """`leaf` as the value of an input variable, or a TypeError saying to pass floats."""
    if isinstance(leaf, Var):
        # a float value an outer transform holds without a derivative (an argument it does not
        # differentiate) is still one this transform may differentiate: jacobian(grad(f, 0), 1)
        if numpy_dtype(leaf.dtype).kind not in "fc":
            raise TypeError(f"lagrad.{who}: {where} has dtype {leaf.dtype}; only floats can be differentiated")
        return leaf
    if isinstance(leaf, (bool, np.bool_, int, np.integer)):
        raise TypeError(
            f"lagrad.{who}: {where} is the {type(leaf).__name__} {leaf!r}; integers and booleans have no "
            f"derivative. Pass a float (e.g. {float(leaf)!r}) or leave it out of argnums."
        )
    if isinstance(leaf, float):
        return np.float64(leaf)
    if isinstance(leaf, complex):
        return np.complex128(leaf)
    if isinstance(leaf, np.matrix):
        raise TypeError(
            f"lagrad.{who}: {where} is a numpy.matrix, whose `*` is a matrix product and whose reductions "
            f"keep two axes; pass numpy.asarray(x) (and write `@` for the product)"
        )
    if _foreign_array(leaf):
        # another library's array that NumPy can read but that does not take part in NumPy's
        # dispatch (PyTorch, JAX, memoryview, array.array): its values, as a NumPy array
        try:
            leaf = np.asarray(leaf)
        except Exception as error:
            raise TypeError(
                f"lagrad.{who}: {where} is a {type(leaf).__name__} that NumPy cannot read as an array "
                f"({error}); pass a NumPy array of floats"
            ) from error
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or not hasattr(leaf, "shape"):
        raise TypeError(
            f"lagrad.{who}: {where} is a {type(leaf).__name__}, not an array of floats; pass a NumPy "
            f"array of floats (or a list, tuple or dict of them)"
        )
    if numpy_dtype(dtype).kind not in "fc":
        raise TypeError(
            f"lagrad.{who}: {where} has dtype {dtype}; only float (or complex) arrays can be "
            f"differentiated. Pass floats (e.g. x.astype(float)) or leave it out of argnums."
        )
    # The recorded equations keep this array's values for the rules. A copy makes the derivative
    # that of the values the function was called with, whatever later writes into the caller's
    # array (through another name inside the function, by another thread, before a vjp_fun call).
    # In the array's memory order: NumPy sums in memory order, so a C-ordered copy of a Fortran-
    # ordered argument would change the value's bits from the function's own.
    return leaf.copy(order="K") if isinstance(leaf, np.ndarray) else leaf


def _foreign_array(leaf: Any) -> bool:
    """Whether `leaf` is an array NumPy can read (``__array__`` or the buffer protocol) that is
    neither NumPy's nor a duck array that NumPy's dispatch lets carry the computation."""
    if isinstance(leaf, (np.ndarray, np.generic, str, bytes)) or hasattr(type(leaf), "__array_function__"):
        return False
    if namespace_of(leaf) is not None:  # array-api-strict, CuPy: computed in their own namespace
        return False
    if hasattr(leaf, "__array__"):
        return True
    try:
        memoryview(leaf)
    except TypeError:
        return False
    return True


def _explain(error: BaseException, who: str, selected: tuple[Any, ...]) -> None:
    """Add what lagrad knows to an error the user's function raised while traced."""
    if (
        isinstance(error, TypeError)
        and any(isinstance(a, (list, tuple)) for a in selected)
        and ("'list'" in str(error) or "'tuple'" in str(error))
        and hasattr(error, "add_note")  # Python 3.11+
    ):
        error.add_note(
            f"lagrad.{who}: a list or tuple argument is a container of separate inputs (one per "
            f"element, as in JAX), not an array; pass numpy.array(...) to differentiate an array."
        )


def _lagrad_cause(error: BaseException, who: str) -> BaseException | None:
    """lagrad's own error, where NumPy raised another in its place: writing a traced scalar into
    an element of a NumPy array (``out[i] = f(x[i])``) converts it with float(), and NumPy
    replaces lagrad's explanation by "setting an array element with a sequence"."""
    cause = error.__cause__
    if not (
        isinstance(error, ValueError)
        and "setting an array element with a sequence" in str(error)
        and isinstance(cause, TypeError)
        and str(cause).startswith("lagrad")
    ):
        return None
    return TypeError(
        f"lagrad.{who}: a traced value was written into an element of a NumPy array (out[i] = ...), "
        f"which NumPy does by converting it to a plain float: {cause} To fill an array, collect the "
        f"values in a list and lagrad.numpy.stack them, or update a traced array with "
        f"out = out.at[i].set(v)."
    )


def _check_outputs(leaves: list[Any], tree: Any, who: str, trace: Trace) -> None:
    """Refuse outputs that are not arrays of numbers (a string, an object), naming the transform."""
    paths = tree.paths()
    for leaf, path in zip(leaves, paths):
        if isinstance(leaf, (Var, np.dtype, type)):  # a dtype is metadata NumPy answers with, as a shape is
            continue
        if isinstance(leaf, (str, bytes)):
            kind = "U"
        else:  # an array's own dtype: numpy.asarray would compute a Dask output
            kind = numpy_dtype(leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype).kind
        if kind not in "biufc":
            trace.active = False
            where = f"output {path} " if path else ""
            raise TypeError(
                f"lagrad.{who}: the function returns {where}{type(leaf).__name__} {_short(leaf)}, which is "
                f"not an array of numbers; {who} differentiates arrays of floats. Return those (and "
                f"anything else as aux, with has_aux=True)."
            )


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _argument_names(fun: Fun, nums: tuple[int, ...], selected: tuple[Any, ...], source: bool, who: str) -> list[str]:
    """The name of each differentiated argument: its parameter's name when the source is
    recorded (`lagrad.trace`, `adjoint`), else ``args[i]``. A None argument is refused."""
    for i, arg in zip(nums, selected):
        if arg is None:
            raise TypeError(f"lagrad.{who}: argument {i} is None; pass an array of floats to differentiate")
    if not source:
        return [f"args[{i}]" for i in nums]
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in nums:
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY, params[i].POSITIONAL_OR_KEYWORD):
            names.append(params[i].name)
        else:
            names.append(f"args[{i}]")
    return names


def _flatten_like(treedef: Any, tree: Any, who: str, what: str, like: str) -> list[Any]:
    """The leaves of `tree`, which must have the structure `treedef` (that of `like`)."""
    try:
        return treedef.flatten(tree)
    except ValueError as error:
        raise ValueError(f"lagrad.{who}: {what} must have the structure of {like}: {error}") from None


def _scalar_output(traced: Any, who: str) -> int | None:
    """The output variable of a function `who` needs to return one float scalar (`traced`: the
    function traced, its `program` and `outputs`)."""
    program = traced.program
    if len(program.outputs) != 1 or program.out_tree.kind != "leaf":
        raise TypeError(
            f"lagrad.{who}: the function returns {program.out_tree!r} ({len(program.outputs)} arrays); "
            f"{who} needs a single scalar. If the rest is auxiliary data, pass has_aux=True; for "
            f"several outputs use lagrad.jacobian or lagrad.vjp."
        )
    out = traced.outputs[0]
    while isinstance(out, Var):  # under a second derivative or compile: its number's shape and dtype
        out = out.value
    if not hasattr(out, "dtype") and not isinstance(out, (int, float, complex)):
        raise TypeError(f"lagrad.{who}: the function returns a {type(out).__name__}; {who} needs a float scalar")
    shape, dtype = np.shape(out), getattr(out, "dtype", np.dtype(type(out)))
    if shape != ():
        raise TypeError(
            f"lagrad.{who}: the function returns an array of shape {shape}; {who} needs a scalar "
            f"output. Use lagrad.jacobian for the whole derivative, lagrad.vjp for a "
            f"vector-Jacobian product, or reduce the output (e.g. with .sum())."
        )
    o = program.outputs[0]
    if numpy_dtype(dtype).kind not in "fc":
        equation = program.equation(o) if not isinstance(o, Constant) else None
        name = np.dtype(dtype).name
        what = f"{'an' if name[0] in 'aeiou' else 'a'} {name} value"
        if equation is not None:
            what = f"z{o + 1} = {equation.rhs()}, {what}"
        raise TypeError(
            f"lagrad.{who}: the function returns {what}, which has no derivative (an index or count is "
            f"constant almost everywhere); return a float"
        )
    return None if isinstance(o, Constant) else o


def _is_complex_value(x: Any) -> bool:
    """Whether x (an array of any namespace, a traced value or a Python number) is complex."""
    return numpy_dtype(x.dtype).kind == "c" if hasattr(x, "dtype") else isinstance(x, complex)


def _refuse_real_of_complex(fun: Fun, argnums: ArgNums) -> Fun:
    """`fun`, refusing a real value of complex arguments: its second derivatives mix ∂/∂Re and
    ∂/∂Im and are not one complex matrix (forward over reverse and reverse over reverse
    disagree), so a Hessian of it would be a silently wrong number. A holomorphic `fun` (a
    complex value) has one: f″(z)."""

    @functools.wraps(fun)
    def checked(*args: Any, **kwargs: Any) -> Any:
        out = fun(*args, **kwargs)
        nums, _ = _argnums(argnums, len(args), "hessian")
        complex_in = any(_is_complex_value(leaf) for i in nums for leaf in tree_flatten(args[i])[0])
        if complex_in and not any(_is_complex_value(leaf) for leaf in tree_flatten(out)[0]):
            raise TypeError(
                "lagrad.hessian: a real function of complex arguments has second derivatives in "
                "the real and imaginary parts that are not one complex matrix. Pass them as real "
                "arguments (hessian(lambda x, y: fun(x + 1j * y), argnums=(0, 1))), or take "
                "directional second derivatives with lagrad.hvp"
            )
        return out

    return checked
