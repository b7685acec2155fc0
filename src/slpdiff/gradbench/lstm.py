"""lstm: the ADBench LSTM's loss on a character sequence, unrolled over time and layers, as a
program per row where the rows are the b hidden units.

Every weight matrix of this LSTM is diagonal (the reference multiplies elementwise), so hidden
unit i only meets unit i of the weights, the state and the input: each step is elementwise across
the b units, and only the prediction's log-sum-exp couples them (a ``sum`` over the rows). The
time loop (c - 1 steps) and the l layers are unrolled; each statement is one of the reference's
vector operations over the units. Per step: the input (one statement), six per layer, the
prediction, its log-sum-exp and the step's share of the loss (``sum`` over the rows):
(c - 1)(6 l + 4) + 2 statements. Parameters, initial state and each character's bits are array
inputs of b rows; the Jacobian is reverse mode per row of each parameter vector, flattened as the
reference does (per layer its 4 weight vectors, then its 4 biases; then the input weight, the
output weight and the output bias). The reference's log-sum-exp adds 2 inside the logarithm: kept.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text, check_size

GATES = ["f", "i", "o", "c"]  # forget, input gate, output gate, change


def size(layers: int, c: int) -> tuple[int, int]:
    """(statements, operations as slpdiff.limits counts them) of the program."""
    # per layer and step 17 (sigmoid(x * W + B): 3, ...), per step 12 more, and the last lines
    return (c - 1) * (6 * layers + 4) + 2, (c - 1) * (17 * layers + 13) + 10


def _write(layers: int, c: int) -> tuple[Text, dict]:
    text = Text()
    weights = [[f"W{g}{layer}" for g in GATES] for layer in range(layers)]
    biases = [[f"B{g}{layer}" for g in GATES] for layer in range(layers)]
    extra = ["inw", "outw", "outb"]
    params = [v for layer in range(layers) for v in weights[layer] + biases[layer]] + extra
    state = [f"{hc}0_{layer}" for layer in range(layers) for hc in ("h", "c")]
    sequence = [f"s{t}" for t in range(c)]
    text.input(*params, *state, *sequence)
    hidden = [f"h0_{layer}" for layer in range(layers)]
    cell = [f"c0_{layer}" for layer in range(layers)]
    totals = []
    for t in range(c - 1):
        x = text.let(f"in{t}", f"s{t} * inw")
        for layer in range(layers):
            wf, wi, wo, wc = weights[layer]
            bf, bi, bo, bc = biases[layer]
            h = hidden[layer]
            forget = text.let(f"fg{t}_{layer}", f"sigmoid({x} * {wf} + {bf})")
            ingate = text.let(f"ig{t}_{layer}", f"sigmoid({h} * {wi} + {bi})")
            outgate = text.let(f"og{t}_{layer}", f"sigmoid({x} * {wo} + {bo})")
            change = text.let(f"ch{t}_{layer}", f"tanh({h} * {wc} + {bc})")
            cell[layer] = text.let(f"cl{t}_{layer}",
                                   f"{cell[layer]} * {forget} + {ingate} * {change}")
            hidden[layer] = text.let(f"hd{t}_{layer}", f"{outgate} * tanh({cell[layer]})")
            x = hidden[layer]
        prediction = text.let(f"yp{t}", f"{x} * outw + outb")
        lse = text.let(f"lse{t}", f"log(sum(exp({prediction})) + 2)")
        totals.append(text.let(f"tot{t}", f"sum(s{t + 1} * ({prediction} - {lse}))"))
    text.let("total", " + ".join(totals) if totals else "0")
    text.let("loss", f"-total / ({c - 1} * count(s0))")  # count(s0): the b rows
    text.output("loss")
    return text, {"weights": weights, "biases": biases, "extra": extra, "params": params,
                  "sequence": sequence}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``objective`` or ``jacobian`` at GradBench's lstm input."""
    main = np.asarray(input["main_params"], dtype=np.float64)
    extra = np.asarray(input["extra_params"], dtype=np.float64)
    state = np.asarray(input["state"], dtype=np.float64)
    sequence = np.asarray(input["sequence"], dtype=np.float64)
    layers, b = main.shape[0] // 2, sequence.shape[1] if sequence.ndim == 2 else 0
    c = sequence.shape[0]
    shapes = (main.shape, extra.shape, state.shape)
    if layers < 1 or b < 1 or c < 2 or shapes != ((2 * layers, 4 * b), (3, b), (2 * layers, b)):
        raise Declined("lstm needs main_params 2l x 4b, extra_params 3 x b, state 2l x b and "
                       "a sequence of at least 2 characters of b bits")
    check_size(f"lstm with l = {layers}, c = {c:,}", *size(layers, c))
    prepared = programs.get(("lstm", layers, c), lambda: _write(layers, c))
    info, program = prepared.info, prepared.program
    at = {}
    for layer in range(layers):
        for g, name in enumerate(info["weights"][layer]):
            at[name] = np.ascontiguousarray(main[2 * layer, g * b:(g + 1) * b])
        for g, name in enumerate(info["biases"][layer]):
            at[name] = np.ascontiguousarray(main[2 * layer + 1, g * b:(g + 1) * b])
        at[f"h0_{layer}"] = np.ascontiguousarray(state[2 * layer])
        at[f"c0_{layer}"] = np.ascontiguousarray(state[2 * layer + 1])
    for k, name in enumerate(info["extra"]):
        at[name] = np.ascontiguousarray(extra[k])
    for t, name in enumerate(info["sequence"]):
        at[name] = np.ascontiguousarray(sequence[t])
    if function == "objective":
        return programs.job(prepared, function,
                            lambda: evaluate(program, at, derivatives=False).values["loss"],
                            rows=True)
    if function == "jacobian":
        params = info["params"]

        def jacobian():
            g = evaluate(program, at, wrt=params).gradient["loss"]
            return np.concatenate([np.broadcast_to(g[name], (b,)) for name in params])

        return programs.job(prepared, function, jacobian, rows=True)
    raise Declined(f"lstm has no function {function!r} (only objective and jacobian)")
