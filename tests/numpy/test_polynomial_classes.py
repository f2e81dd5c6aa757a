"""numpy.polynomial's classes on traced values (numpy/polynomial_classes.py): each class
used as NumPy's documentation uses it, with the value NumPy's class gives and derivatives
checked against central differences in both modes."""

from __future__ import annotations

import numpy as np
import pytest
from numpy import polynomial as npoly

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads
from tests.conftest import rand

P = lnp.polynomial
NAMES = ["Polynomial", "Chebyshev", "Legendre", "Hermite", "HermiteE", "Laguerre"]
DOMAIN = [-1.0, 2.0]
XS = np.array([-0.5, 0.3, 1.7])


def both(name):
    return getattr(P, name), getattr(npoly, name)


def grads(f, *args):
    check_grads(f, *args, modes=("fwd", "rev"), order=1)


@pytest.mark.parametrize("name", NAMES)
def test_evaluation_in_coefficients_and_points(name):
    ours, theirs = both(name)
    c, x = rand(4), XS.copy()
    assert np.allclose(lagrad.value(ours(c, DOMAIN)(x)), theirs(c, DOMAIN)(x))
    assert np.allclose(lagrad.trace(lambda c: ours(c, DOMAIN)(x), c)(c), theirs(c, DOMAIN)(x))
    grads(lambda c, x: ours(c, DOMAIN)(x), c, x)
    grads(lambda d: ours(c, d, [-1.0, 1.0])(x), np.array(DOMAIN))  # in the domain too


@pytest.mark.parametrize("name", NAMES)
def test_the_family_modules_hold_their_class(name):
    ours, theirs = both(name)
    module = {"HermiteE": "hermite_e"}.get(name, name.lower())
    assert getattr(getattr(P, module), name) is ours
    assert np.allclose(ours.domain, theirs.domain) and np.allclose(ours.window, theirs.window)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("m", [1, 2, 5])
def test_deriv(name, m):
    ours, theirs = both(name)
    c = rand(4)
    assert np.allclose(ours(c, DOMAIN).deriv(m).coef, theirs(c, DOMAIN).deriv(m).coef)
    grads(lambda c, x: ours(c, DOMAIN).deriv(m)(x), c, XS)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("m,k,lbnd", [(1, [], None), (2, [1.0, -2.0], 0.5), (1, 3.0, -1.0)])
def test_integ(name, m, k, lbnd):
    ours, theirs = both(name)
    c = rand(3)
    assert np.allclose(ours(c, DOMAIN).integ(m, k, lbnd).coef, theirs(c, DOMAIN).integ(m, k, lbnd).coef)
    grads(lambda c: ours(c, DOMAIN).integ(m, k, lbnd)(XS), c)


@pytest.mark.parametrize("name", NAMES)
def test_arithmetic(name):
    ours, theirs = both(name)
    a, b = rand(3), rand(4)

    def expr(k, a, b):
        p, q = k(a, DOMAIN), k(b, DOMAIN)
        return (p + q) * p - 2.0 * q + 1.0 - p / 4.0 + (-q) * [0.5, 1.0] + (3.0 - p)

    want = expr(theirs, a, b)
    got = expr(ours, a, b)
    n = max(len(want.coef), len(got.coef))
    assert np.allclose(np.pad(got.coef, (0, n - len(got.coef))), np.pad(want.coef, (0, n - len(want.coef))))
    grads(lambda a, b: expr(ours, a, b)(XS), a, b)


@pytest.mark.parametrize("name", NAMES)
def test_fit(name):
    ours, theirs = both(name)
    x = np.linspace(-1.0, 3.0, 9) + 0.05 * rand(9)
    y, w = np.sin(x), 1.0 + rand(9)
    fitted = ours.fit(x, y, 3, w=w)
    want = theirs.fit(x, y, 3, w=w)
    assert np.allclose(fitted.coef, want.coef) and np.allclose(fitted.domain, want.domain)
    grads(lambda x, y, w: ours.fit(x, y, 3, w=w)(XS), x, y, w)
    grads(lambda x: ours.fit(x, y, 3).coef, x)  # the domain is the range of x, traced with it
    coef, status = ours.fit(x, y, 2, domain=[-1, 3], full=True)
    assert np.allclose(coef.coef, theirs.fit(x, y, 2, domain=[-1, 3]).coef) and len(status) == 4


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["Polynomial", "Chebyshev", "Laguerre"])
def test_convert(name, kind):
    ours, theirs = both(name)
    c = rand(4)
    got = ours(c, DOMAIN).convert(kind=getattr(P, kind))
    want = theirs(c, DOMAIN).convert(kind=getattr(npoly, kind))
    assert type(got) is getattr(P, kind) and np.allclose(got.coef, want.coef)
    assert np.allclose(
        ours(c, DOMAIN).convert(domain=[0, 1], kind=getattr(npoly, kind)).coef,
        theirs(c, DOMAIN).convert(domain=[0, 1], kind=getattr(npoly, kind)).coef,
    )
    grads(lambda c: ours(c, DOMAIN).convert(kind=getattr(P, kind)).coef, c)


def test_basics():
    c = rand(4)
    p = P.Chebyshev(c, DOMAIN)
    assert p.degree() == 3 and len(p) == 4 and p.cutdeg(1).degree() == 1
    x, y = p.linspace(5)
    assert np.allclose(x, np.linspace(-1, 2, 5)) and np.allclose(y, npoly.Chebyshev(c, DOMAIN)(x))
    assert np.allclose(P.Legendre.basis(2).coef, npoly.Legendre.basis(2).coef)
    assert np.allclose(P.Hermite.identity(DOMAIN).coef, npoly.Hermite.identity(DOMAIN).coef)
    assert np.allclose(p.mapparms(), npoly.Chebyshev(c, DOMAIN).mapparms())


@pytest.mark.parametrize(
    "call",
    [
        lambda m, c: m.Chebyshev(c) + m.Legendre(c),  # kinds differ
        lambda m, c: m.Chebyshev(c) + m.Chebyshev(c, DOMAIN),  # domains differ
        lambda m, c: m.Chebyshev(c) * m.Chebyshev(c, window=DOMAIN),  # windows differ
        lambda m, c: m.Chebyshev(c, [0.0, 1.0, 2.0]),  # a domain of three numbers
        lambda m, c: m.Chebyshev(m.Chebyshev(c).coef.reshape(2, 2)),  # 2-d coefficients
    ],
)
def test_refuses_what_numpy_refuses(call):
    c = rand(4)
    with pytest.raises(Exception) as numpy_error:
        call(npoly, c)
    with pytest.raises(numpy_error.type):
        lagrad.grad(lambda c: lnp.sum(call(P, c).coef))(c)


def test_integ_with_a_traced_domain_says_what_to_do():
    x = np.linspace(0.0, 1.0, 5)
    with pytest.raises(TypeError, match=r"Chebyshev.integ: the domain is traced.*plain domain="):
        lagrad.grad(lambda x: lnp.sum(P.Chebyshev.fit(x, x**2, 2).integ().coef))(x)
