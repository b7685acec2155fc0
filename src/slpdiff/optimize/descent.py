"""Minimizing (or maximizing) one output of a program, as a library function with a per-step
callback.

Plain gradient descent (the seed's method), momentum, Nesterov momentum and Adam are written here;
L-BFGS-B, BFGS, Newton-CG and trust-region Newton-CG are SciPy's (``scipy_methods.py``), driven with
slpdiff's exact derivatives. Every method goes through the same bookkeeping (:class:`_Run`): the
same trace, the same stopping rules (``tol``, ``ftol``, ``steps``), the same counts of evaluations,
and the same handling of divergence and of Ctrl-C.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from ..core.engine import Evaluation
from ..core.schedule import bind_inputs, resolve_names
from ..errors import InputError
from ..evaluation import evaluate, expect
from ..language.program import Program
from .methods import BOUNDED_METHODS, DEFAULT_LR, FIRST_ORDER, METHODS, PARAMETERS


@dataclass
class Step:
    """One evaluated point (every input), the objective's value and gradient there; ``index``
    counts the updates made before it."""

    index: int
    evaluation: Evaluation
    objective: str

    @property
    def at(self) -> dict[str, object]:
        return self.evaluation.at

    @property
    def value(self):
        return self.evaluation.values[self.objective]

    @property
    def gradient(self) -> dict[str, object]:
        return self.evaluation.gradient[self.objective]

    def is_finite(self) -> bool:
        """True when the value and every gradient component are finite numbers."""
        return all(math.isfinite(float(x)) for x in (self.value, *self.gradient.values()))

    def gradient_norm(self) -> float:
        """The 2-norm of the gradient (without overflow for huge components)."""
        return math.hypot(*(float(g) for g in self.gradient.values()))


@dataclass
class OptimizeResult:
    """How a run ended.

    ``status``: "converged" (the ``tol`` or ``ftol`` test passed), "max_steps", "diverged" (a
    non-finite value or gradient; ``final`` is the last finite iterate and ``diverged_at`` the bad
    point), "interrupted" (Ctrl-C; ``final`` is the best point evaluated) or "stalled" (a SciPy
    method stopped before those tests passed; ``message`` is SciPy's reason). ``steps`` counts the
    updates made; ``nfev``, ``ngev`` and ``nhev`` count evaluations of the value, the gradient and
    Hessian-vector products.
    """

    status: str
    steps: int
    final: Step
    diverged_at: Step | None = None
    method: str = "gd"
    message: str = ""
    nfev: int = 0
    ngev: int = 0
    nhev: int = 0

    @property
    def at(self) -> dict[str, object]:
        return self.final.at

    @property
    def value(self):
        return self.final.value

    @property
    def gradient(self) -> dict[str, object]:
        return self.final.gradient


def choose_objective(program: Program, objective: str | None) -> str:
    """The output to minimize: ``objective``, or the only output; else :class:`InputError`."""
    outputs = program.output_names
    if objective is None:
        if len(outputs) > 1:
            raise InputError(f"the program has {len(outputs)} outputs ({', '.join(outputs)}); "
                             "choose the one to minimize with --objective NAME")
        return outputs[0]
    if objective not in outputs:
        raise InputError(f"'{objective}' is not an output; the program's outputs are: "
                         f"{', '.join(outputs)}")
    return objective


def optimize(program: Program, at: Mapping[str, object], method: str = "gd", *,
             wrt: Sequence[str] | None = None, objective: str | None = None,
             maximize: bool = False, bounds: Mapping[str, tuple[float, float]] | None = None,
             steps: int = 100, tol: float = 1e-10, ftol: float = 0.0,
             lr: float | None = None, momentum: float | None = None, beta1: float | None = None,
             beta2: float | None = None, eps: float | None = None,
             callback: Callable[[Step], None] | None = None,
             evaluator: Evaluator | None = None) -> OptimizeResult:
    """Minimize (or with ``maximize``, maximize) ``objective`` over the inputs in ``wrt``
    (default: all), the other inputs held at their values in ``at``.

    ``method`` is one of :data:`METHODS`. ``bounds`` maps inputs to ``(low, high)`` (infinite for
    no bound): projected steps for the first-order methods, L-BFGS-B for "lbfgs". A run stops when
    the gradient's 2-norm (of the projected gradient, with bounds) is at most ``tol``, when the
    value's relative change in one step, ``|f_k - f_k+1| / max(|f_k|, |f_k+1|, 1)``, is at most
    ``ftol`` (0: never), after ``steps`` updates, at a non-finite value or gradient, on Ctrl-C
    (SIGINT, in the main thread), or when a SciPy method can go no further.

    ``callback(step)`` is called once per iterate that an update was made from, in order
    (step 0 is the starting point); the final point is in the result, not passed to it.
    ``lr``, ``momentum``, ``beta1``, ``beta2``, ``eps``: the first-order methods' parameters
    (None: the usual defaults, see :data:`PARAMETERS` and :data:`DEFAULT_LR`).

    ``evaluator(point, names, objective)``, if given, computes the value and gradient instead of
    :func:`slpdiff.evaluate` (a minibatch of the data, :func:`minibatches`; or a cluster's
    partitions); the SciPy methods that need Hessians (newton-cg, trust-ncg) take them from the
    whole program at the point, so they need the default.
    """
    params = _method_parameters(method, lr=lr, momentum=momentum, beta1=beta1, beta2=beta2,
                                eps=eps)
    objective = choose_objective(program, objective)
    names = _optimized_inputs(program, wrt)
    _check_numbers(steps=steps, tol=tol, ftol=ftol)
    bind_inputs(program, at)  # every input has a value, and every name is an input
    lower, upper = _bounds_arrays(method, names, bounds or {})
    start = _start_vector(at, names, lower, upper)
    if evaluator is not None and method in ("newton-cg", "trust-ncg"):
        raise InputError(f"{method} needs Hessians of the whole objective; with minibatches or "
                         "a cluster use gd, momentum, nesterov, adam, lbfgs or bfgs")
    run = _Run(program, dict(at), names, objective, -1.0 if maximize else 1.0, lower, upper,
               steps, tol, ftol, callback, start, evaluator)
    expect(program, steps + 1)  # the step limit: what a compiled evaluator could amortize over
    with _sigint_deferred() as interrupted:
        run.interrupted = interrupted
        try:
            if method in FIRST_ORDER:
                _first_order(run, start, _UPDATES[method](**params))  # ends by raising _Stop
            from .scipy_methods import minimize_with_scipy

            status, message, x = minimize_with_scipy(run, start, method)
            return run.result(method, status, message, x)
        except _Stop as stop:
            return run.result(method, stop.status, stop.message, bad=stop.bad)
        except KeyboardInterrupt:
            if interrupted.installed:  # a second Ctrl-C: stop at once
                raise
            return run.result(method, "interrupted", _INTERRUPTED)


def gradient_descent(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
                     objective: str | None = None, lr: float = 0.1, steps: int = 100,
                     tol: float = 1e-10,
                     callback: Callable[[Step], None] | None = None) -> OptimizeResult:
    """Plain gradient descent, ``x <- x - lr * g`` (the seed's order of operations):
    :func:`optimize` with ``method="gd"``."""
    return optimize(program, at, "gd", wrt=wrt, objective=objective, lr=lr, steps=steps, tol=tol,
                    callback=callback)


# --- minibatches --------------------------------------------------------------------------------

Evaluator = Callable[[Mapping[str, object], Sequence[str], str], Evaluation]


def minibatches(program: Program, columns: Mapping[str, np.ndarray], batch_size: int,
                seed: int = 0) -> Evaluator:
    """An evaluator for :func:`optimize` that evaluates each point on ``batch_size`` rows of the
    data ``columns`` drawn afresh (without replacement) for every evaluation: minibatch
    stochastic gradients. The draws are :func:`sample_rows` with the evaluation's number, so the
    same seed gives the same run."""
    rows = len(next(iter(columns.values())))
    calls = iter(range(1 << 62))

    def evaluate_batch(point, names, objective):
        take = sample_rows(rows, batch_size, seed, next(calls))
        at = dict(point)
        at.update({name: values[take] for name, values in columns.items()})
        return evaluate(program, at, names, [objective])
    return evaluate_batch


def sample_rows(rows: int, count: int, seed: int, draw: int, part: int = 0) -> np.ndarray:
    """``count`` of ``rows`` row numbers, sorted, drawn without replacement by a generator seeded
    by (``seed``, ``draw``, ``part``): partition ``part`` of a cluster's data draws its own."""
    rng = np.random.default_rng([seed, draw, part])
    if count >= rows:
        return np.arange(rows)
    return np.sort(rng.choice(rows, size=count, replace=False))


# --- the bookkeeping every method shares --------------------------------------------------------

_INTERRUPTED = "interrupted (SIGINT); the final point is the best one evaluated"


class _Stop(Exception):
    """Ends a run from wherever it is (our loop, or a SciPy callback), with its status."""

    def __init__(self, status: str, message: str, bad: Step | None = None):
        super().__init__(message)
        self.status, self.message, self.bad = status, message, bad


class _Run:
    """One run's state: evaluation at a vector of the optimized inputs (counted, cached, watched
    for non-finite values and Ctrl-C), the latest and the best iterates, and the stopping rules.

    An iterate is reported to the callback only once the next one is accepted (or the run stops
    elsewhere), so that the final point is never also printed as a step.
    """

    def __init__(self, program, point, names, objective, sign, lower, upper, steps, tol, ftol,
                 callback, start, evaluator=None):
        self.program, self.point, self.names, self.objective = program, point, names, objective
        self.evaluator = evaluator or (lambda at, names, objective: evaluate(
            program, at, names, [objective]))
        self.sign, self.lower, self.upper = sign, lower, upper
        self.bounded = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
        self.steps, self.tol, self.ftol, self.callback = steps, tol, ftol, callback
        self.nfev = self.ngev = self.nhev = 0
        self.pending: Step | None = None  # the latest iterate, not yet reported
        self.best: Step | None = None
        self.interrupted = lambda: False
        self._recent: dict[bytes, Step] = {}
        self.start = start  # the starting values of the optimized inputs
        self.last_step = 0.0  # the length of the last update (for a message)

    def evaluate(self, x: np.ndarray, index: int, check_interrupt: bool = True) -> Step:
        """The step at ``x`` (values of ``self.names``); raises :class:`_Stop` on Ctrl-C or at a
        non-finite value or gradient."""
        if check_interrupt:
            self.check_interrupt()
        return self._finite(self.evaluate_unchecked(x, index))

    def first(self, x: np.ndarray) -> Step:
        """The starting point's step (step 0), whose value must be one number."""
        step = self.evaluate_unchecked(x, 0)
        _check_one_number(step)
        return self._finite(step)

    def _finite(self, step: Step) -> Step:
        if not step.is_finite():
            raise _Stop("diverged", "a value or gradient is not finite", bad=step)
        if self.best is None or self.sign * step.value < self.sign * self.best.value:
            self.best = step
        return step

    def check_interrupt(self) -> None:
        """Stop here (raise :class:`_Stop`) if Ctrl-C has been pressed."""
        if self.interrupted():
            raise _Stop("interrupted", _INTERRUPTED)

    def evaluate_unchecked(self, x: np.ndarray, index: int) -> Step:
        """The step at ``x``, counted, from the cache of recent points if it is there."""
        key = np.asarray(x, dtype=np.float64).tobytes()
        if key in self._recent:
            return replace(self._recent[key], index=index)
        point = dict(self.point)
        point.update(zip(self.names, (np.float64(v) for v in x), strict=True))
        step = Step(index, self.evaluator(point, self.names, self.objective), self.objective)
        self.nfev += 1
        self.ngev += 1
        if len(self._recent) >= 8:  # SciPy asks again for points it has just seen
            del self._recent[next(iter(self._recent))]
        self._recent[key] = step
        return step

    def descent_gradient(self, step: Step) -> np.ndarray:
        """The gradient of the function being minimized (the negated objective to maximize)."""
        # step.gradient is in program order, like self.names
        return self.sign * np.fromiter(step.gradient.values(), np.float64, len(self.names))

    def vector(self, step: Step) -> np.ndarray:
        """The values of the optimized inputs at ``step``."""
        return np.fromiter((step.at[n] for n in self.names), np.float64, len(self.names))

    def project(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.lower, self.upper) if self.bounded else x

    def accept(self, step: Step) -> None:
        """``step`` is the next iterate: report the previous one, and stop here if a test passes."""
        previous, self.pending = self.pending, step
        if previous is not None:
            self._report(previous)
            self.last_step = math.hypot(*(self.vector(step) - self.vector(previous)))
        g = self.descent_gradient(step)
        if self.bounded:  # components that point out of the box at an active bound do not count
            x = self.vector(step)
            g[((x <= self.lower) & (g > 0)) | ((x >= self.upper) & (g < 0))] = 0.0
        norm = math.hypot(*g)
        if norm <= self.tol:
            what = "projected gradient norm" if self.bounded else "gradient norm"
            raise _Stop("converged", f"{what} {norm:.6g} <= tol {self.tol:g}")
        if self.ftol > 0 and previous is not None:
            a, b = float(previous.value), float(step.value)
            change = abs(a - b) / max(abs(a), abs(b), 1.0)
            if change <= self.ftol:
                raise _Stop("converged", f"relative change of the value {change:.6g} <= ftol "
                                         f"{self.ftol:g}")
        if step.index >= self.steps:
            raise _Stop("max_steps", f"reached the maximum of {self.steps} steps")

    def _report(self, step: Step) -> None:
        if self.callback is not None:
            self.callback(step)

    def result(self, method: str, status: str, message: str, x: np.ndarray | None = None,
               bad: Step | None = None) -> OptimizeResult:
        """The result for a run that stopped with ``status``; ``x``: where SciPy stopped."""
        latest = self.pending
        if latest is None:  # stopped at the starting point: it is not finite, or Ctrl-C
            final = bad or self.best or self.evaluate_unchecked(self.start, 0)
        elif status == "interrupted":
            final = self.best
        elif x is not None and not np.array_equal(x, self.vector(latest)):
            final = self.evaluate_unchecked(np.asarray(x), latest.index)
        else:
            final = latest
        if latest is not None and (final is not latest or status in ("diverged", "interrupted")):
            self._report(latest)  # an update was made (or tried) from it
        return OptimizeResult(status, latest.index if latest else 0, final, bad, method, message,
                              self.nfev, self.ngev, self.nhev)


# --- checking the arguments -----------------------------------------------------------------------

def _method_parameters(method: str, **given) -> dict[str, float]:
    if method not in METHODS:
        raise InputError(f"unknown method '{method}'; the methods are: {', '.join(METHODS)}")
    own = PARAMETERS.get(method, {})
    for name, value in given.items():
        if value is not None and name not in own:
            users = [m for m in FIRST_ORDER if name in PARAMETERS[m]]
            raise InputError(f"{name} does not apply to {method}: it is a parameter of "
                             f"{_words(users)}")
    params = {name: given[name] if given[name] is not None else default
              for name, default in own.items()}
    if "lr" in params and params["lr"] is None:
        params["lr"] = DEFAULT_LR[method]
    for name, value in params.items():
        low_open = name in ("lr", "eps")
        ok = value > 0 if low_open else 0 <= value < 1
        if not (math.isfinite(value) and ok):
            rule = "greater than 0" if low_open else "at least 0 and less than 1"
            raise InputError(f"{name} must be a finite number {rule}, not {value!r}")
    return params


def _check_numbers(steps: int, tol: float, ftol: float) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise InputError(f"steps must be a whole number at least 0, not {steps!r}")
    for name, value in (("tol", tol), ("ftol", ftol)):
        if not value >= 0:
            raise InputError(f"{name} must be at least 0, not {value!r}")


def _optimized_inputs(program: Program, wrt: Sequence[str] | None) -> list[str]:
    """The inputs to optimize over, in program order (the order of gradients)."""
    if wrt is None:
        return list(program.input_names)
    seen = set()
    for name in wrt:
        if name in seen:
            raise InputError(f"'{name}' is given twice among the inputs to optimize over")
        seen.add(name)
    positions = resolve_names(wrt, program.input_names, "input")
    return [program.input_names[k] for k in sorted(positions)]


def _bounds_arrays(method: str, names: list[str], bounds: Mapping[str, tuple[float, float]]):
    lower = np.full(len(names), -np.inf)
    upper = np.full(len(names), np.inf)
    if bounds and method not in BOUNDED_METHODS:
        raise InputError(f"{method} does not take bounds; the methods that do are: "
                         f"{', '.join(BOUNDED_METHODS)}")
    for name, (low, high) in bounds.items():
        if name not in names:
            raise InputError(f"a bound for '{name}', which is not among the inputs optimized "
                             f"over ({', '.join(names) or 'none'})")
        low = -np.inf if low is None else float(low)
        high = np.inf if high is None else float(high)
        if math.isnan(low) or math.isnan(high) or low > high:
            raise InputError(f"the bounds {low!r}:{high!r} for '{name}' are not an interval "
                             "(the low bound must be at most the high one)")
        lower[names.index(name)], upper[names.index(name)] = low, high
    return lower, upper


def _start_vector(at: Mapping[str, object], names: list[str], lower, upper) -> np.ndarray:
    """The starting values of the optimized inputs, moved into the bounds."""
    values = []
    for name in names:
        if np.ndim(at[name]):
            raise InputError(f"cannot optimize over '{name}': its value is an array, not a number")
        values.append(float(np.asarray(at[name])))
    return np.clip(np.array(values, dtype=np.float64), lower, upper)


def _words(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


# --- the first-order methods ---------------------------------------------------------------------

def _first_order(run: _Run, x: np.ndarray, update) -> None:
    """Evaluate, test, update, project; ends by raising :class:`_Stop`."""
    step = run.first(x)
    while True:
        run.accept(step)
        with np.errstate(all="ignore"):  # an overflow shows as a non-finite value: "diverged"
            x = update(run.vector(step), run.descent_gradient(step), step.index + 1)
        step = run.evaluate(run.project(x), step.index + 1)


def _gd(lr):
    def update(x, g, t):
        return x - lr * g
    return update


def _momentum(lr, momentum, nesterov=False):
    # PyTorch's form: v <- mu v + g; x <- x - lr v (Nesterov: x <- x - lr (g + mu v)), so the
    # gradient is always taken at the iterate itself, which the trace shows.
    velocity = 0.0

    def update(x, g, t):
        nonlocal velocity
        velocity = momentum * velocity + g
        return x - lr * (g + momentum * velocity if nesterov else velocity)
    return update


def _adam(lr, beta1, beta2, eps):
    # Kingma and Ba (2015), Algorithm 1; t counts updates from 1.
    m = v = 0.0

    def update(x, g, t):
        nonlocal m, v
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        return x - lr * m_hat / (np.sqrt(v_hat) + eps)
    return update


_UPDATES = {"gd": _gd, "momentum": _momentum, "adam": _adam,
            "nesterov": lambda lr, momentum: _momentum(lr, momentum, nesterov=True)}


# --- Ctrl-C -------------------------------------------------------------------------------------

class _InterruptFlag:
    """Callable: has Ctrl-C been pressed? ``installed``: is our SIGINT handler in place?"""

    def __init__(self, installed: bool):
        self.installed = installed
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


@contextmanager
def _sigint_deferred() -> Iterator[_InterruptFlag]:
    """While a run lasts, the first Ctrl-C only asks it to stop at its next evaluation (so that a
    line of output is never cut in half and the best point can be reported); a second one
    interrupts at once. Only in the main thread, and only over Python's default handler."""
    flag = _InterruptFlag(threading.current_thread() is threading.main_thread()
                          and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if not flag.installed:
        yield flag
        return

    def first_interrupt(signum, frame):
        flag.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _check_one_number(step: Step) -> None:
    """The objective and the gradient must be single numbers, not one per row of data."""
    rows = np.size(step.value)
    if np.ndim(step.value):
        raise InputError(f"the objective '{step.objective}' has {rows} values (one per row), "
                         "not one number to minimize: reduce it over the rows, e.g. with "
                         f"mean(...) or sum(...)")
    arrays = [name for name, g in step.gradient.items() if np.ndim(g)]
    if arrays:
        raise InputError(f"'{arrays[0]}' holds many values (a column of data), not one "
                         "parameter: leave it out of --wrt")
