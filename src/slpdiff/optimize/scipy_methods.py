"""SciPy's quasi-Newton and Newton methods driven with slpdiff's exact derivatives.

Imported only when such a method is chosen, so that the command line does not pay for importing
SciPy otherwise. SciPy's own tolerances are set to zero: the stopping rules are slpdiff's, tested
at every iterate through SciPy's callback (:meth:`_Run.accept`), so ``tol``, ``ftol`` and
``steps`` mean the same for every method; SciPy stops by itself only when it can go no further.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from ..errors import InputError

SCIPY_NAMES = {"lbfgs": "L-BFGS-B", "bfgs": "BFGS", "newton-cg": "Newton-CG",
               "trust-ncg": "trust-ncg"}
INSTALL_HINT = "pip install 'slpdiff[scipy]'"
FULL_HESSIAN_MAX = 10  # inputs; with more, Hessian-vector products (see _second_derivatives)


def scipy_minimize():
    """``scipy.optimize.minimize``, or an :class:`InputError` saying what to install."""
    # OpenBLAS reads its thread count once, when SciPy first loads it. The methods here do BLAS
    # work of size n (or n x 10), where threads cost far more than they bring: with 2 threads,
    # L-BFGS-B took 3.5 to 50 times as long on the 4-variable Powell singular problem, depending
    # on the machine's load (benchmarks/optimize_overhead.py).
    # So SciPy's OpenBLAS gets one thread unless the user chose otherwise; the environment is
    # restored at once, so child processes see the user's own.
    first_import = "scipy" not in sys.modules and "OPENBLAS_NUM_THREADS" not in os.environ
    if first_import:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise InputError(f"the methods {', '.join(SCIPY_NAMES)} need SciPy, which is not "
                         f"installed: {INSTALL_HINT}") from None
    finally:
        if first_import:
            del os.environ["OPENBLAS_NUM_THREADS"]
    return minimize


def minimize_with_scipy(run, start: np.ndarray, method: str) -> tuple[str, str, np.ndarray]:
    """Run SciPy's ``method`` from ``start``; returns (status, SciPy's message, its final x) when
    SciPy stops by itself, else ends by raising the run's stop."""
    minimize = scipy_minimize()
    run.accept(run.first(start))

    def value_and_gradient(x):
        step = run.evaluate(x, run.pending.index + 1)
        return run.sign * float(step.value), run.descent_gradient(step)

    def next_iterate(xk):
        run.accept(run.evaluate(xk, run.pending.index + 1))

    extra = _second_derivatives(run) if method in ("newton-cg", "trust-ncg") else {}
    if method == "lbfgs" and run.bounded:
        extra["bounds"] = list(zip(run.lower, run.upper, strict=True))
    res = minimize(value_and_gradient, start, jac=True, method=SCIPY_NAMES[method],
                   callback=next_iterate, options=_options(method, run.steps), **extra)
    # SciPy's status 1 is its iteration or evaluation limit; anything else, success included
    # (e.g. L-BFGS-B's "no reduction of f"), happened before slpdiff's tests passed.
    if res.status == 1:
        return "max_steps", f"SciPy: {res.message}", res.x
    return "stalled", stalled_message(method, str(res.message), run), res.x


# SciPy's reasons for stopping by itself, in words; a reason is recognized by these words in its
# message (which differ between SciPy versions: L-BFGS-B's line search failure has read
# "ABNORMAL_TERMINATION_IN_LNSRCH" and, since SciPy 1.15, "ABNORMAL: " with no reason at all).
_REASONS = [
    (("abnormal", "lnsrch", "precision loss"),
     "the line search found no lower value along the search direction"),
    (("relative reduction",), "the value no longer decreases from one step to the next"),
    (("projected gradient",), "the projected gradient is zero"),
    (("not positive definite", "non-psd", "linalg error"),
     "the Hessian is not positive definite along the search direction"),
    (("bad approximation",), "the quadratic model no longer predicts a decrease"),
    (("terminated successfully",), "the step no longer moves the point"),
]


def stalled_message(method: str, message: str, run) -> str:
    """Why a SciPy method stopped before slpdiff's tests passed, in words, with the last step's
    length and the gradient norm (the run's verdict is "stalled", whatever SciPy calls it)."""
    lowered = message.lower()
    words = next((w for keys, w in _REASONS if any(k in lowered for k in keys)), None)
    latest = run.pending
    norm = latest.gradient_norm() if latest is not None else float("nan")
    numbers = f"last step {run.last_step:.3g}, gradient norm {norm:.3g} > tol {run.tol:g}"
    if words is None:
        return f"stopped by SciPy: {message.strip() or 'no reason given'}; {numbers}"
    # SciPy's own words are left out: "ABNORMAL: " says nothing, and "Optimization terminated
    # successfully" contradicts the verdict (its test is not slpdiff's)
    return f"stopped by SciPy: {words}; {numbers}"


def _options(method: str, steps: int) -> dict:
    maxiter = steps + 1  # slpdiff's own test stops at `steps` first
    if method == "lbfgs":
        return {"maxiter": maxiter, "maxfun": sys.maxsize, "ftol": 0.0, "gtol": 0.0}
    if method == "bfgs":
        return {"maxiter": maxiter, "gtol": 0.0}
    if method == "newton-cg":
        return {"maxiter": maxiter, "xtol": 0.0}
    # trust-ncg: SciPy caps the trust radius at 1000, so a minimum 1e6 away (Brown's badly scaled
    # function) took over 2000 steps; uncapped, 36.
    return {"maxiter": maxiter, "gtol": 0.0, "max_trust_radius": np.inf}


def _second_derivatives(run) -> dict:
    """SciPy's ``hess`` (the whole Hessian, for a few inputs) or ``hessp`` (Hessian-vector
    products), exact, by forward mode over the adjoint program (:mod:`slpdiff.hessian`).

    The whole Hessian is one sweep carrying a tangent per input; SciPy then multiplies by the
    matrix instead of asking for each product. With it, runs took 0.4 to 1.0 times as long as with
    products on the test problems with n <= 4, about as long (0.8 to 1.35 times, newton-cg losing
    and trust-ncg gaining) on extended Rosenbrock with n = 10, and 3.2 to 5.5 times as long with
    n = 100 (benchmarks/optimize_overhead.py).
    """
    from ..core.hessian import hessian, hvp

    names, objective = run.names, run.objective

    def at(x):
        run.check_interrupt()
        point = dict(run.point)
        point.update(zip(names, (np.float64(v) for v in x), strict=True))
        return point

    if len(names) <= FULL_HESSIAN_MAX:
        def matrix(x):
            rows = hessian(run.program, at(x), names, [objective])[objective]
            run.nhev += len(names)  # as many products, in one sweep
            return run.sign * np.array([[float(rows[a][b]) for b in names] for a in names])
        return {"hess": matrix}

    def product(x, v):
        column = hvp(run.program, at(x), dict(zip(names, v, strict=True)), names,
                     [objective])[objective]
        run.nhev += 1
        return run.sign * np.fromiter((column[n] for n in names), np.float64, len(names))
    return {"hessp": product}
