"""codegen: a Program simplified for straight-line code and written as Python source."""

from __future__ import annotations

import re

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.codegen import (
    REWRITES,
    BranchFlipped,
    Straight,
    emit,
    interpreter,
    layouts,
    math_twin,
    narrowed_product_exact,
    transposed_product_exact,
)
from lagrad.testing import check_grads


def _run(program, *args, **options):
    return emit(Straight(program), **options).function()(*args)


def test_a_repeated_equation_a_product_with_ones_and_x_to_the_one_become_names():
    def f(x):
        a = lnp.sin(x) * lnp.sin(x)  # sin(x) twice: written once
        return lnp.sum(a * np.ones(3)) + lnp.sum(a**1) + lnp.sum(x * 0.0)

    x = np.array([0.1, 0.2, 0.3])
    program = lagrad.trace(f, x)
    straight = Straight(program)
    names = [eq.primitive.name for eq, _ in straight.statements]
    assert names.count("sin") == 1 and "power" not in names
    assert len(straight.statements) < len(program.equations)
    (out,) = _run(program, x)
    assert out == f(x)  # plain NumPy through lagrad.numpy: the same operations


def test_a_negative_times_a_number_is_one_product():
    program = lagrad.trace(lambda x: (-x) * 2.0 + 1.0, np.array([0.5, -0.0, np.inf]))
    straight = Straight(program)
    assert [eq.primitive.name for eq, _ in straight.statements] == ["multiply", "add"]
    (out,) = _run(program, np.array([0.5, -0.0, np.inf]))
    expected = (-np.array([0.5, -0.0, np.inf])) * 2.0 + 1.0
    assert np.array_equal(out, expected) and np.array_equal(np.signbit(out), np.signbit(expected))


def test_dead_equations_are_dropped_unless_asked_to_keep_them():
    def f(x):
        lnp.exp(x)  # computed, never used
        return lnp.sum(x**2)

    program = lagrad.trace(f, np.ones(2))
    assert [eq.primitive.name for eq, _ in Straight(program).statements] == ["power", "sum"]
    assert len(Straight(program, prune=False).statements) == len(program.equations)


def test_locals_are_reused_and_dying_buffers_written_into():
    def f(x):
        y = lnp.tanh(x)
        y = y * 2.0 + 1.0
        return lnp.exp(y) - x

    x = np.linspace(-1, 1, 5)
    program = lagrad.trace(f, x)
    text = emit(Straight(program)).text
    assert "out=" in text and "t1" not in text  # one local serves the whole chain
    assert "out=" not in emit(Straight(program), reuse_buffers=False).text
    (out,) = _run(program, x)
    assert np.array_equal(out, np.exp(np.tanh(x) * 2.0 + 1.0) - x)
    assert np.array_equal(x, np.linspace(-1, 1, 5))  # an input is never written into


def test_a_view_is_never_written_through():
    def f(x):
        y = lnp.exp(x)
        z = y[1:]  # a view of y's buffer
        w = y * 2.0  # y's last use, but z still reads the buffer
        return lnp.sum(w[1:] * z)

    x = np.array([0.1, 0.2, 0.3])
    (out,) = _run(lagrad.trace(f, x), x)
    y = np.exp(x)
    assert out == np.sum((y * 2.0)[1:] * y[1:])


def test_a_branch_is_checked_where_its_variable_is_made():
    def f(x):
        return x * 2.0 if lnp.sum(x) > 0 else x * 3.0

    program = lagrad.trace(f, np.ones(2))
    fun = emit(Straight(program)).function()
    assert fun(np.ones(2))[0].tolist() == [2.0, 2.0]
    try:
        fun(-np.ones(2))
    except BranchFlipped as flip:
        assert program.guards[flip.index] is True
    else:
        raise AssertionError("the flipped branch was not noticed")


def test_the_interpreter_runs_what_emit_writes_bit_for_bit():
    """Outputs that are an input, a constant, or the same variable twice (copied, as emit
    copies them), a user's kernel returning a Python number, and slots reused."""
    w = np.array([1.0, -2.0])

    def f(x, s):
        y = lnp.tanh(x) * s
        z = y * 2.0 + lnp.exp(y)
        return x, z, z, w, lnp.sum(z) * s, 1.5

    x, s = np.array([0.3, -0.7]), np.float64(1.25)
    program = lagrad.trace(f, x, s)
    expected = emit(Straight(program)).function()(x, s)
    got = interpreter(Straight(program))(x, s)
    assert len(got) == len(expected) == 6
    for a, b in zip(got, expected):
        assert type(a) is type(b) and np.array_equal(a, b)
    assert got[0] is x and got[1] is not got[2] and got[3] is not w


def test_the_interpreter_checks_branches_on_inputs_and_on_variables():
    def f(x, y):
        a = x * 2.0 if x > 0 else x * 3.0  # a branch on an input
        return a * y if lnp.sum(a * y) > 0 else a - y

    program = lagrad.trace(f, np.float64(1.0), np.ones(2))
    run = interpreter(Straight(program))
    assert run(np.float64(2.0), np.ones(2))[0].tolist() == [4.0, 4.0]
    for args in ((np.float64(-1.0), np.ones(2)), (np.float64(1.0), -np.ones(2))):
        try:
            run(*args)
        except BranchFlipped as flip:
            assert flip.index in program.guards
        else:
            raise AssertionError("the flipped branch was not noticed")


def test_data_movement_and_reductions_are_written_as_numpy_calls_bit_for_bit():
    c = np.array([[0.5, -1.0, 2.0]])

    def f(x):
        y = lnp.concatenate([x, c, x[::-1] * 2.0], axis=0)  # a constant among the arrays
        a = y[1:, ::2] + y[[0, 2, 2, 4]][:, :2] + y[-1, 1]  # basic, fancy and integer indices
        b = lnp.reshape(y, (15,))[None, 3:6].T  # reshape, a 1-tuple index, transpose
        m = lnp.max(y, axis=1, keepdims=True) - lnp.min(y, axis=0) + lnp.mean(y, axis=(0, 1))
        w = (y > 0).astype(np.float64) * lnp.broadcast_to(b[:, 0], (5, 3))
        return lnp.sum(a) + lnp.sum(b) + lnp.sum(m) + lnp.sum(w)

    x = np.array([[0.3, -0.2, 0.9], [1.1, 0.4, -0.7]])
    program = lagrad.trace(lagrad.value_and_grad(f), x)
    text = emit(Straight(program)).text
    spelled_out = ["np.concatenate((", "[1:, ::2]", "[None, 3:6]", ".T\n", "np.reshape(", ".astype("]
    for spelled in [*spelled_out, "np.maximum.reduce(", "np.minimum.reduce(", "np.add.reduce(", "np.broadcast_to("]:
        assert spelled in text, spelled
    for kernel in ("getitem_", "reshape_", "transpose_", "concatenate_", "max_", "mean_", "astype_"):
        assert kernel not in text, kernel
    got = _run(program, x)
    value, g = lagrad.value_and_grad(f)(x)
    assert got[0] == value and np.array_equal(got[1], g)
    check_grads(f, x, modes=("rev",), order=1)  # and that gradient is right


def test_float64_scalars_held_as_python_floats_give_the_same_bits_and_types():
    """Only where NumPy would give the same dtype and bits: a float64 scalar meeting a float32
    array stays float64 (a Python float is weak in NumPy's promotion); division (which raises
    on zero in Python) and a comparison read as a value keep NumPy scalars."""
    x32 = np.array([1.5, -2.0], dtype=np.float32)

    def f(a, b, u):
        c = a * b - 3.0 * a + (-b)  # Python arithmetic
        s = lnp.sin(c) * c + 2**60  # a ufunc's result, an int float64 holds only roughly
        d = s / (a - a)  # division by zero: inf, not ZeroDivisionError
        m = (a < b) + (b < a)  # booleans read as values: NumPy's addition, not Python's
        return c, s, d, m, u * a, a * b + 1.0 if c > 0 else a - b  # a float32 array times a

    for a, b in ((np.float64(0.7), np.float64(-1.3)), (np.float64(np.inf), np.float64(-0.0))):
        with np.errstate(all="ignore"):
            program = lagrad.trace(f, a, b, x32)
            expected = program(a, b, x32)
            got = emit(Straight(program)).function()(a, b, x32)
        for g, e in zip(got, expected):
            assert type(g) is type(e) and np.asarray(g).dtype == np.asarray(e).dtype
            assert np.array_equal(g, e, equal_nan=True) and np.signbit(g).tolist() == np.signbit(e).tolist()
    text = emit(Straight(program)).text
    assert "z1 = float(z1)" not in text  # a is read by the float32 product and a comparison's value
    assert ("math_sin" if math_twin(np.sin) else "float(np.sin(") in text and "np.float64(" in text
    assert "float(" not in emit(Straight(program), python_scalars=False).text
    assert "math_" not in emit(Straight(program), python_scalars=False).text


def _same_bits(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype and g.shape == e.shape
        assert np.array_equal(g, e, equal_nan=True) and np.array_equal(np.signbit(g), np.signbit(e))


def test_a_roll_is_two_copies_and_a_roll_added_is_added_slice_by_slice():
    """Shifts of either sign and beyond the length, a roll of an input (never written into),
    of a value at its last use (its buffer is not the target), a roll added to a buffer that
    dies there (in place, slice by slice) and one added to the rolled value itself (not in
    place: the slices would read what the first one wrote), float32 kept float32."""

    def f(u, a):
        v = lnp.roll(u, 1) - 2.0 * u + lnp.roll(u, -1)  # the stencil: a roll added to a dying buffer
        w = lnp.exp(v)
        w = w + lnp.roll(w, 7)  # added to what it rolls
        z = lnp.roll(lnp.sin(w), -9) * a  # the sine's last use is the roll
        return z, lnp.roll(z, 3), lnp.sum(z * u)

    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        u, a = rng.standard_normal(5).astype(dtype), dtype(0.5)
        program = lagrad.trace(f, u, a)
        text = emit(Straight(program)).text
        assert "np.empty(5" in text and "] += " in text and "np.concatenate" not in text
        kept = u.copy()
        _same_bits(emit(Straight(program)).function()(u, a), program(u, a))
        _same_bits(interpreter(Straight(program))(u, a), program(u, a))
        assert np.array_equal(u, kept)
        _same_bits(emit(Straight(program), reuse_buffers=False).function()(u, a), program(u, a))
    u = rng.standard_normal(6)
    grad = lagrad.grad(lambda u, a: f(u, a)[2], argnums=(0, 1))
    program = lagrad.trace(grad, u, 0.5)
    _same_bits(emit(Straight(program)).function()(u, np.float64(0.5)), grad(u, 0.5))
    check_grads(lambda u: f(u, 0.5)[2], u, modes=("fwd", "rev"), order=2)


def test_a_rolls_part_of_one_entry_is_one_subscript():
    """Rolls by 1, -1 and n - 1 copied or added: their one-entry parts written ``t[0] += x[n-1]``
    (float64 and float32: the same IEEE operation as the ufunc's), not for an integer roll
    (NumPy's integer scalars warn on overflow where the ufunc wraps); the bits of eager and of
    the code without the rewriting, with inf, NaN and -0.0 among the entries."""

    def f(u, a):
        lap = lnp.roll(u, 1) - 2.0 * u + lnp.roll(u, -1)  # added to a dying buffer: in place
        w = lnp.roll(lnp.exp(lap), 4) * a  # a roll by n - 1 copied
        return lnp.sum(w * u), lap, w

    u0 = np.array([0.5, -0.0, np.inf, -1.5, 2.0])
    for dtype in (np.float64, np.float32):
        u, a = u0.astype(dtype), dtype(0.25)
        with np.errstate(all="ignore"):
            program = lagrad.trace(f, u, a)
            text = emit(Straight(program)).text
            assert re.search(r"\[0\] = z1\[4\]", text) and re.search(r"\[4\] \+= z1\[0\]", text)
            assert re.search(r"\[4\] = t\d+\[0\]", text)  # the roll by 4 copied: its last entry
            assert "[:1]" not in emit(Straight(program)).text and "[:1]" in emit(
                Straight(program), rewrites=REWRITES - {"item"}).text  # fmt: skip
            _same_bits(emit(Straight(program)).function()(u, a), program(u, a))
            _same_bits(emit(Straight(program)).function()(u, a), f(u, a))
            _same_bits(emit(Straight(program), rewrites=REWRITES - {"item"}).function()(u, a), program(u, a))
    big = np.array([3.0, 2.0**62, -7.0, 1.0, 0.0])
    program = lagrad.trace(lambda x: lnp.roll(x.astype(np.int64), 1) * 4 + x, big)  # an integer roll: sliced
    text = emit(Straight(program)).text
    assert "[:1] = " in text and "[0]" not in text
    with np.errstate(all="ignore"):
        _same_bits(emit(Straight(program)).function()(big), (program(big),))
    grad = lagrad.grad(lambda u, a: f(u, a)[0], argnums=(0, 1))
    u = np.linspace(0.1, 0.9, 6)
    program = lagrad.trace(grad, u, 0.5)
    assert re.search(r"t\d+\[0\] \+= t\d+\[5\]", emit(Straight(program)).text)  # the transposed rolls too
    _same_bits(emit(Straight(program)).function()(u, np.float64(0.5)), grad(u, 0.5))


def test_a_result_written_into_an_operands_buffer_is_an_augmented_assignment():
    """``a += b`` where the result goes into the first operand, or into either of a sum's or a
    product's; a difference or quotient into its second operand keeps ``out=``; a broadcast
    operand and NaN/inf/-0.0 give the same bits."""

    def f(x, y):
        a = lnp.exp(x)
        b = a + y  # into a's buffer
        c = 2.0 * lnp.sin(b)  # the sine's buffer is the second operand of a product
        d = x - c  # c dies as the second operand of a difference: out=
        e = d / (x + 1.0)  # into d's
        return e * y[0], lnp.tanh(e) - y  # y broadcast against e

    x = np.array([[0.5, -0.0, np.inf], [-1.0, 2.0, np.nan]])
    y = np.array([[0.25, -0.0, 3.0]])
    with np.errstate(all="ignore"):
        program = lagrad.trace(f, x, y)
        text = emit(Straight(program)).text
        assert " += " in text and " *= " in text and " /= " in text and "np.subtract(" in text
        _same_bits(emit(Straight(program)).function()(x, y), program(x, y))


def test_a_returned_array_is_not_a_buffer_the_next_call_writes_into():
    def f(u, a):
        v = lnp.roll(u, 1) + lnp.roll(u, -1) - 2.0 * u
        return lnp.sum((u + a * v) ** 2)

    compiled = lagrad.compile(lagrad.grad(f, argnums=(0, 1)), interpret=0)
    u = np.linspace(0.0, 1.0, 7)
    first = compiled(u, 0.25)
    kept = [g.copy() for g in first]
    second = compiled(2.0 * u, 0.5)
    assert all(np.array_equal(g, k) for g, k in zip(first, kept))
    assert all(g is not h for g, h in zip(first, second))
    _same_bits(second, lagrad.grad(f, argnums=(0, 1))(2.0 * u, 0.5))


def test_math_functions_on_python_floats_only_where_they_give_numpys_bits():
    """sin, sqrt… of a float64 held as a Python float call `math` where a sample shows the
    same bits as NumPy's scalar call (checked per function: NumPy computes some by its own
    SIMD code); the results equal the trace's bit for bit, also through a comparison written
    inside its branch check."""
    from lagrad.codegen import MATH

    def f(a, b):
        x = 0.5
        for _ in range(20):
            x = a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + lnp.sqrt(x) * lnp.exp(-x) + 0.1 * lnp.cos(x)
        return x

    grad = lagrad.grad(f, argnums=(0, 1))
    for a, b in ((3.7, 0.3), (3.2, 1.7), (2.5, -0.4)):
        program = lagrad.trace(grad, a, b)
        text = emit(Straight(program)).text
        assert ("math_sin" in text) is (math_twin(np.sin) is not None)
        assert "if not (" in text or "if (" in text  # the comparisons are inside their checks
        _same_bits(emit(Straight(program)).function()(np.float64(a), np.float64(b)), grad(a, b))
    assert math_twin(np.add) is None and all(math_twin(u) in (None, MATH[u]) for u in MATH)
    check_grads(f, 3.7, 0.3, modes=("fwd", "rev"), order=2)


def test_a_value_math_refuses_is_answered_as_without_compile():
    def f(x):
        return lnp.sqrt(x * 1.0) + x * 2.0

    compiled = lagrad.compile(lagrad.value_and_grad(f), interpret=0)
    for x in (4.0, 9.0, -1.0, 16.0):
        with np.errstate(invalid="ignore"):
            got, expected = compiled(x), lagrad.value_and_grad(f)(x)
        _same_bits(got, expected)
    assert compiled.cache_info()["eager"] == 1


def _dense(x, *weights):
    features = [x]
    for w in weights:
        inputs = lnp.concatenate(features, axis=1)
        features.append(lnp.tanh(inputs @ w))
    return lnp.concatenate(features, axis=1)


def test_concatenations_extending_one_another_share_one_buffer():
    """A DenseNet's features copied once into one buffer, each layer's input its leading columns
    (read by matrix products only, also transposed in the derivative): the same bits, also in
    float32; a member read otherwise (a sum) or returned is a concatenation of its own."""
    rng = np.random.default_rng(1)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((4, 3)).astype(dtype)
        ws = [rng.standard_normal((3 + 2 * j, 2)).astype(dtype) for j in range(3)]

        def loss(*ws, x=x):
            return lnp.sum(_dense(x, *ws) ** 2)

        grad = lagrad.grad(loss, argnums=(0, 1, 2))
        program = lagrad.trace(grad, *ws)
        text = emit(Straight(program)).text
        assert text.count("buffer0 = np.empty(") == 1 and "buffer1" not in text and "np.concatenate" not in text
        _same_bits(emit(Straight(program)).function()(*ws), grad(*ws))
        if dtype is np.float64:  # (central differences in float32 keep too few digits to compare)
            check_grads(loss, *ws, modes=("rev", "fwd"), order=1)

    def read_otherwise(a, b):
        first = lnp.concatenate([a, b], axis=0)  # summed: a concatenation of its own
        second = lnp.concatenate([a, b, a * 2.0], axis=0)  # a product reads it: chained
        third = lnp.concatenate([a, b, a * 2.0, b], axis=0)  # the whole buffer: returned as it is
        return lnp.sum(first), second @ np.ones((3, 1)), third

    def returned(a, b):
        first = lnp.concatenate([a, b], axis=0)
        return first, lnp.concatenate([a, b, a], axis=0) @ np.ones((3, 1))

    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1, 3))
    for f, concatenations in ((read_otherwise, 1), (returned, 2)):
        program = lagrad.trace(f, a, b)
        text = emit(Straight(program)).text
        assert text.count("np.concatenate(") == concatenations and text.count("np.empty(") == 2 - concatenations
        got = emit(Straight(program)).function()(a, b)
        _same_bits(got, program(a, b))
        _same_bits(got, f(a, b))


def test_an_outer_product_and_a_mean_are_spelled_with_the_same_bits():
    """``g @ w.T`` with inner dimension 1 as ``g * w.T + 0.0`` (matmul's sum starts from +0.0, so
    a -0.0 product is 0.0), whether NumPy's loop or BLAS computes it, or (the rewriting "outer",
    float32 and float64) as einsum's sum into zeros, one pass; float16 keeps the two passes; a
    float64 mean as add.reduce divided by the count; float32 kept float32."""

    def f(g, w, y):
        means = lnp.mean(y, axis=(0, 1)), lnp.mean(y, axis=1, keepdims=True), lnp.mean(y)
        return g @ w.T, g @ lnp.reshape(w, (1, 3)), *means  # a strided operand, a contiguous one

    g = np.array([[-1.0], [0.0], [2.5], [-0.0], [np.inf], [1e-310]])
    w = np.array([[0.0], [-0.0], [3.0]])
    for dtype in (np.float64, np.float32, np.float16):
        y = np.random.default_rng(2).standard_normal((3, 5)).astype(dtype)
        args = (g.astype(dtype), w.astype(dtype), y)
        with np.errstate(invalid="ignore"):  # inf * 0
            program = lagrad.trace(f, *args)
        for rewrites in (REWRITES, REWRITES - {"outer"}):
            text = emit(Straight(program), rewrites=rewrites).text
            summed = "outer" in rewrites and dtype is not np.float16
            assert text.count("np.einsum(") == (2 if summed else 0)
            assert text.count("np.multiply(") == text.count("+= 0.0") == (0 if summed else 2)
            assert ("np.mean" in text) is (dtype is not np.float64)  # NumPy divides float32 in float64
            with np.errstate(invalid="ignore"):  # inf * 0
                _same_bits(emit(Straight(program), rewrites=rewrites).function()(*args), program(*args))
                _same_bits(emit(Straight(program), rewrites=rewrites).function()(*args), f(*args))
    assert "np.mean(" in emit(Straight(program), rewrites=()).text


def test_the_outer_sum_is_sampled_per_dtype():
    from lagrad.codegen import outer_sum_exact

    assert outer_sum_exact(np.dtype(np.float64).str) and outer_sum_exact(np.dtype(np.float32).str)
    assert not outer_sum_exact(np.dtype(np.float16).str) and not outer_sum_exact(np.dtype(np.complex128).str)


def test_a_whole_vectors_sum_max_and_min_are_spelled_without_keywords():
    """A sum, max or min over a vector's one axis (None, 0, -1, (0,)) without keepdims is
    ``np.add.reduce(x)``: the reduction's defaults, the same pairwise sum (an empty vector's is
    0.0); one that keeps the axis, a matrix's and an integer vector's keep their keywords."""

    def f(x, m):
        k = (m[0] * 4.0).astype(np.int64)
        picks = lnp.sum(x), lnp.sum(x, axis=0), lnp.max(x, axis=-1), lnp.min(x, axis=(0,))
        return *picks, lnp.sum(x, keepdims=True), lnp.sum(m, axis=0), lnp.sum(k)

    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):
        x, m = rng.standard_normal(301).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
        x[[7, 100]] = -0.0, np.inf
        program = lagrad.trace(f, x, m)
        text = emit(Straight(program)).text
        plain = re.findall(r"np\.(add|maximum|minimum)\.reduce\(z1\)", text)
        assert set(plain) == {"add", "maximum", "minimum"} and "keepdims=True" in text
        assert text.count("axis=") == 3  # the sum kept as a vector, the matrix's, the integers'
        _same_bits(emit(Straight(program)).function()(x, m), program(x, m))
        _same_bits(emit(Straight(program)).function()(x, m), f(x, m))
        _same_bits(emit(Straight(program), rewrites=REWRITES - {"spelled"}).function()(x, m), f(x, m))
    program = lagrad.trace(lambda x: lnp.sum(x) - 1.0, np.ones(0))  # an empty vector's sum: 0.0
    assert "np.add.reduce(z1)" in emit(Straight(program)).text
    _same_bits(emit(Straight(program)).function()(np.ones(0)), (np.float64(-1.0),))


def test_a_products_or_reductions_new_array_takes_a_later_result_unless_viewed():
    def f(x, w):
        m = x @ w  # a new array
        t = m.T  # a view of it, alive after m's last use
        y = lnp.exp(m)  # m's last use: not written into (t reads that memory)
        r = lnp.sum(y, axis=1, keepdims=True)  # a new array ...
        return t, lnp.tanh(r) * 2.0, -(x @ w)  # ... whose buffer the tanh takes; so does the negation

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    program = lagrad.trace(f, x, w)
    text = emit(Straight(program)).text
    assert "out=" in text and "np.exp(t0, out=" not in text
    _same_bits(emit(Straight(program)).function()(x, w), f(x, w))


def _dense_along(axis, x, *weights):
    """A DenseNet block whose features are concatenated along `axis` (1: columns, x @ w;
    0: rows, w @ x), the loss the sum of the last layer's features squared."""
    features = [x]
    for w in weights:
        inputs = lnp.concatenate(features, axis=axis)
        features.append(lnp.tanh(inputs @ w if axis else w @ inputs))
    return lnp.sum(lnp.concatenate(features, axis=axis) ** 2)


def test_sums_into_the_pieces_of_a_concatenations_cotangent_are_one_addition_per_layer():
    """The cotangents of a DenseNet's features (each layer's input concatenation cut back into
    its pieces, added up over the later layers) summed side by side: the first layer's sums into
    a new stack, each earlier layer's as one addition into its rows. The same bits as eager along
    either axis and in float32; x differentiated too (its piece, as wide as the others, is a row
    of the stack, returned); pieces of unequal width are summed one by one."""
    rng = np.random.default_rng(4)
    weights, every = (1, 2, 3, 4), (0, 1, 2, 3, 4)
    for axis, dtype, growth, argnums in ((1, np.float64, 2, weights), (1, np.float32, 2, weights),
                                         (0, np.float64, 3, every), (1, np.float64, 3, every)):  # fmt: skip
        x = rng.standard_normal((5, 3) if axis else (3, 4)).astype(dtype)
        widths = [3 + growth * j for j in range(4)]
        ws = [(rng.standard_normal((w, growth)) if axis else rng.standard_normal((growth, w))).astype(dtype)
              / np.sqrt(w) for w in widths]  # fmt: skip

        def loss(x, *ws, axis=axis):
            return _dense_along(axis, x, *ws)

        grad = lagrad.grad(loss, argnums=argnums)
        program = lagrad.trace(grad, x, *ws)
        text = emit(Straight(program)).text
        assert text.count("stack0 = np.empty(") == 1 and "stack1" not in text
        assert text.count("stack0[0:") == 2  # the earlier layers' sums, one addition each
        got = emit(Straight(program)).function()(x, *ws)
        _same_bits(got, grad(x, *ws))
        _same_bits(emit(Straight(program), rewrites=REWRITES - {"accumulate"}).function()(x, *ws), got)
        assert "stack" not in emit(Straight(program), rewrites=REWRITES - {"accumulate"}).text
        assert "stack" not in emit(Straight(program), reuse_buffers=False).text
    check_grads(lambda x, *ws: _dense_along(1, x, *ws), x, *ws, modes=("rev", "fwd"), order=1)


def _dense_head(activation, x, *params):
    """The benchmark's DenseNet block: a one-column head, the loss its output's mean square."""
    *weights, head = params
    features = [x]
    for w in weights:
        features.append(activation(lnp.concatenate(features, axis=1) @ w))
    return lnp.mean((lnp.concatenate(features, axis=1) @ head) ** 2)


def test_a_cotangent_cut_into_summed_columns_is_computed_transposed(monkeypatch):
    """The DenseNet's cotangent products (the head's outer product, each layer's ``g @ w.T``) are
    computed transposed, so that the pieces summed over the layers are rows of one stack and each
    layer's sums one contiguous addition. Eager's bits in float64 and float32, x differentiated
    (x's piece, of another width, summed into a new array made in C order; of the features' width,
    a row of the stack, returned in C order and not written by the next call), whatever the
    activation's rule does with a piece: multiplied into a dying buffer (tanh, sin, exp's ``g *
    ans``); ReLU's ``where`` is not an IEEE operation of the piece's entries, so its products stay
    as they were (the outer product forced transposed, its pieces are read through C-ordered
    copies and summed in a stack of the usual order: the same bits);
    the products stay whole where `transposed_product_exact` says BLAS's bits would change."""
    import lagrad.codegen as codegen

    rng = np.random.default_rng(9)
    relu = lambda z: lnp.maximum(z, 0.0)
    for activation, dtype, width in ((lnp.tanh, np.float64, 4), (lnp.tanh, np.float32, 3), (lnp.exp, np.float64, 4),
                                     (relu, np.float64, 4), (lnp.sin, np.float32, 3)):  # fmt: skip
        x = rng.standard_normal((6, width)).astype(dtype)
        ws = [(rng.standard_normal((width + 3 * j, 3)) / 4.0).astype(dtype) for j in range(4)]
        head = rng.standard_normal((width + 12, 1)).astype(dtype)
        head[[5, 9], 0] = 0.0, -0.0

        def loss(x, *params, activation=activation):
            return _dense_head(activation, x, *params)

        grad = lagrad.grad(loss, argnums=(0, 1, 2, 3, 4, 5))
        program = lagrad.trace(grad, x, *ws, head)
        text = emit(Straight(program)).text
        n = 3 if width == 4 else 4  # the stack's rows: x's piece among them where it is as wide
        if activation is relu:
            assert f"stack0 = np.empty(({n}, 6, 3)" in text and "order=" not in text
        else:
            assert re.search(rf"np\.einsum\('ij,jk->ik', t\d+\.T\[0:{width + 12}\], ", text)  # the outer product,
            # transposed, summed into zeros (without "outer": a product and += 0.0)
            assert re.search(
                rf"np\.multiply\(t\d+\.T\[0:{width + 12}\], ",
                emit(Straight(program), rewrites=REWRITES - {"outer"}).text,
            )
            products = re.findall(r"\.T\[0:\d+\] @ np\.ascontiguousarray\(t\d+\.T\)", text)
            assert len(products) == 3  # layers 4, 3, 2 (layer 1's is not cut)
            assert f"stack0 = np.empty(({n}, 3, 6)" in text and ".transpose(" not in text
            assert "order='C'" in text and ".T.copy()" not in text
        expected = grad(x, *ws, head)
        _same_bits(emit(Straight(program)).function()(x, *ws, head), expected)
        _same_bits(emit(Straight(program), rewrites=REWRITES - {"transposed"}).function()(x, *ws, head), expected)
        _same_bits(emit(Straight(program), rewrites=REWRITES - {"outer"}).function()(x, *ws, head), expected)
        assert emit(Straight(program)).function()(x, *ws, head)[0].flags.c_contiguous
    x = rng.standard_normal((6, 4))
    ws = [rng.standard_normal((4 + 3 * j, 3)) / 4.0 for j in range(4)]
    head = rng.standard_normal((16, 1))
    grad = lagrad.grad(lambda x, *params: _dense_head(relu, x, *params), argnums=(0, 1, 2, 3, 4, 5))
    program = lagrad.trace(grad, x, *ws, head)
    straight = Straight(program)
    outer = {eq.out for eq, args in straight.statements if eq.primitive.name == "matmul" and eq.shape == (6, 16)}
    monkeypatch.setattr(codegen, "transposed_products", lambda straight, *rest: outer)  # ReLU's, forced
    text = emit(straight).text  # the outer product transposed, the layers' products not: a stack of
    assert ".T.copy()" in text and "stack0 = np.empty((3, 6, 3)" in text  # the usual order
    assert ".reshape((3, 3, 6)).transpose((0, 2, 1))" in text  # the transposed pieces read in it
    _same_bits(emit(straight).function()(x, *ws, head), grad(x, *ws, head))
    monkeypatch.undo()
    grad = lagrad.grad(lambda x, *params: _dense_head(lnp.tanh, x, *params), argnums=(0, 1, 2, 3, 4, 5))
    program = lagrad.trace(grad, x, *ws, head)
    monkeypatch.setattr(codegen, "transposed_product_exact", lambda *shape: False)
    text = emit(Straight(program)).text
    assert ".T[0:16], " in text and not re.search(r"\.T\[0:\d+\] @ ", text)  # the outer product alone
    _same_bits(emit(Straight(program)).function()(x, *ws, head), grad(x, *ws, head))
    monkeypatch.undo()

    def shared(x, w1, w2, head):  # x's piece summed over the layers alone: a stack's row, returned
        h1 = lnp.tanh(ws[0][:4] @ w1)
        h2 = lnp.tanh(lnp.concatenate([x, h1], axis=1) @ w2)
        return lnp.mean((lnp.concatenate([x, h1, h2], axis=1) @ head) ** 2)

    args = (rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal((6, 3)), head[:9])
    program = lagrad.trace(lagrad.grad(shared, argnums=(0, 1, 2, 3)), *args)
    assert re.search(r"return \(t\d+\.T\.copy\(\), ", emit(Straight(program)).text)
    got = emit(Straight(program)).function()(*args)
    _same_bits(got, lagrad.grad(shared, argnums=(0, 1, 2, 3))(*args))
    assert got[0].flags.c_contiguous
    compiled = lagrad.compile(grad, interpret=0)
    first = compiled(x, *ws, head)
    kept = [g.copy() for g in first]
    second = compiled(2.0 * x, *ws, -head)
    _same_bits(first, kept)
    _same_bits(second, grad(2.0 * x, *ws, -head))
    assert not transposed_product_exact(4096, 4096, 4096, 0, 4096, "<f8")  # too large to sample: whole
    check_grads(lambda x, *params: _dense_head(lnp.tanh, x, *params), x, *ws, head, modes=("rev",), order=1)


def test_an_accumulated_gradient_returned_is_not_written_by_the_next_call():
    """A returned gradient that lives in a stack's row (x's piece, as wide as the features') is
    the call's own: the next call's stack is a new array."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 2))
    ws = [rng.standard_normal((2 + 2 * j, 2)) / 2.0 for j in range(4)]
    grad = lagrad.grad(lambda x, *ws: _dense_along(1, x, *ws), argnums=(0, 1, 2, 3, 4))
    compiled = lagrad.compile(grad, interpret=0)
    compiled(x, *ws)
    assert "stack0" in compiled.source(x, *ws)
    first = compiled(x, *ws)
    kept = [g.copy() for g in first]
    second = compiled(2.0 * x, *[-w for w in ws])
    _same_bits(first, kept)
    _same_bits(second, grad(2.0 * x, *[-w for w in ws]))
    assert not any(np.shares_memory(g, h) for g in first for h in second)


def test_sums_that_are_not_side_by_side_or_broadcast_are_written_one_by_one():
    """Cuts added to operands of another shape (broadcast), to pieces out of order, or to an
    accumulated value read elsewhere (returned) are written as they are; the bits are eager's."""

    def f(a, b, c):
        m = lnp.concatenate([a, b, c], axis=1) * 2.0  # (3, 6): cut back below
        first = m[:, 0:2] + a  # pieces of m, added to values that are no split's
        second = m[:, 2:4] + lnp.ones((1, 2))  # broadcast: another shape
        third = m[:, 4:6] + c
        return lnp.sum(first * second * third), first

    rng = np.random.default_rng(6)
    args = [rng.standard_normal((3, 2)) for _ in range(3)]
    program = lagrad.trace(f, *args)
    text = emit(Straight(program)).text
    assert "stack" not in text
    _same_bits(emit(Straight(program)).function()(*args), f(*args))
    grad = lagrad.grad(lambda *xs: f(*xs)[0], argnums=(0, 1, 2))
    program = lagrad.trace(grad, *args)
    _same_bits(emit(Straight(program)).function()(*args), grad(*args))


def test_a_product_read_in_some_columns_computes_only_those(monkeypatch):
    """A DenseNet's cotangent products (the constant input's columns read by no statement)
    compute only the columns read: the head's outer product always (``np.multiply``, entry by
    entry, signed zeros of the head kept), a matrix product where `narrowed_product_exact` finds
    BLAS's bits unchanged for its shapes, the whole product where it does not. Eager's bits in
    each case, also with the pieces summed one by one."""
    import lagrad.codegen as codegen

    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 4))
    ws = [rng.standard_normal((4 + 4 * j, 4)) / 3.0 for j in range(3)]
    head = rng.standard_normal((16, 1))
    head[[5, 9], 0] = 0.0, -0.0

    def loss(*params):
        *weights, head = params
        features = [x]
        for w in weights:
            features.append(lnp.tanh(lnp.concatenate(features, axis=1) @ w))
        return lnp.mean((lnp.concatenate(features, axis=1) @ head) ** 2)

    grad = lagrad.grad(loss, argnums=(0, 1, 2, 3))
    program = lagrad.trace(grad, *ws, head)
    expected = grad(*ws, head)
    for exact in (True, False):
        monkeypatch.setattr(codegen, "narrowed_product_exact", lambda *shape, exact=exact: exact)
        for rewrites in (REWRITES - {"transposed"}, REWRITES - {"accumulate"}):
            text = emit(Straight(program), rewrites=rewrites).text
            assert "np.einsum(" in text and "[:, 4:16])" in text  # the head's outer product
            assert len(re.findall(r" @ t\d+\[:, 4:\d+\]", text)) == (2 if exact else 0)  # layers 3 and 2
            _same_bits(emit(Straight(program), rewrites=rewrites).function()(*ws, head), expected)
        text = emit(Straight(program)).text  # transposed: the same columns, as rows
        products = re.findall(r"\.T\[4:\d+\] @ np\.ascontiguousarray\(", text)
        assert ".T[4:16], " in text and len(products) == (2 if exact else 0)
        _same_bits(emit(Straight(program)).function()(*ws, head), expected)
        assert "[:, 4:16])" not in emit(Straight(program), rewrites=REWRITES - {"narrow", "transposed"}).text
        assert "[4:16]" not in emit(Straight(program), rewrites=REWRITES - {"narrow"}).text
    monkeypatch.undo()
    assert not narrowed_product_exact(4096, 4096, 4096, 1, 4096, "<f8")  # too large to sample: whole
    check_grads(loss, *ws, head, modes=("rev",), order=1)


def test_a_result_goes_into_a_dying_buffer_only_where_a_run_lays_the_two_out_alike():
    # sin(x.T) is Fortran-ordered; NumPy makes sin(x.T) + exp(y) C-ordered, so writing it into
    # sin(x.T)'s buffer would change the order in which the sum adds it
    x, y = np.arange(6.0).reshape(2, 3) / 7, np.arange(6.0).reshape(3, 2) / 5
    program = lagrad.trace(lambda x, y: lnp.sum((lnp.sin(x.T) + lnp.exp(y)) ** 2), x, y)
    straight = Straight(program)
    found = layouts(straight, [x, y])
    assert found is not None and found[0] == (24, 8) and found[1] == (16, 8)
    assert sorted({v for v in found.values() if v}) == [(8, 24), (16, 8), (24, 8)]  # x.T and sin(x.T): (8, 24)
    unchecked = emit(straight).text
    checked = emit(straight, layouts=found).text

    def added_into(text: str) -> str:  # what the in-place addition's buffer held
        (target,) = re.findall(r"(t\d+) \+= ", text)
        return re.search(rf"{target} = (np\.\w+)\(", text).group(1)

    assert added_into(unchecked) == "np.sin" and added_into(checked) == "np.exp"
    value = np.sum((np.sin(x.T) + np.exp(y)) ** 2)
    assert emit(straight, layouts=found).function()(x, y)[0] == value
    # vectors and scalars are always contiguous: no run
    assert layouts(Straight(lagrad.trace(lambda v: lnp.sum(lnp.sin(v) * v), x[0])), [x[0]]) is None
