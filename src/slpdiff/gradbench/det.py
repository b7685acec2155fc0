"""det: the determinant of an ell x ell matrix by expansion by minors, written out.

Exactly the reference's recursion (cmpad's ``det_of_minor``): a minor expands along its first
remaining row, columns in increasing order, signs alternating, and every sub-minor is written out
again wherever it occurs: sub-determinants are not shared, as the eval requires (sharing them is
another algorithm). One statement per minor of size two or more: 1 + m S(m - 1) statements for a
minor of size m, so 86 for ell = 5, 3,620 for 7, 260,650 for 9 and 2,606,501 for 10 (over slpdiff's
limits, so declined). The gradient is one reverse sweep with respect to all ell^2 entries.
"""

from __future__ import annotations

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text, check_size


def size(ell: int) -> tuple[int, int]:
    """(statements, operations as slpdiff.limits counts them) of the program for ell."""
    statements = operations = 0
    for m in range(2, ell + 1):  # a minor of size m: m products and m - 1 signs
        statements, operations = 1 + m * statements, 2 * m - 1 + m * operations
    return max(statements, 1), operations


def _write(ell: int) -> tuple[Text, dict]:
    text = Text()
    names = [f"a{i}" for i in range(ell * ell)]
    text.input(*names)
    made = 0

    def minor(rows: list[int], cols: list[int]) -> str:
        # Recursion depth is ell (at most about 10): the program's statements are written
        # bottom-up, each minor after the sub-minors it uses.
        nonlocal made
        if len(rows) == 1:
            return names[rows[0] * ell + cols[0]]
        terms = []
        for j, c in enumerate(cols):
            sub = minor(rows[1:], cols[:j] + cols[j + 1:])
            term = f"{names[rows[0] * ell + c]} * {sub}"
            terms.append(term if j == 0 else ("+ " if j % 2 == 0 else "- ") + term)
        made += 1
        return text.let(f"d{made}", " ".join(terms))

    out = minor(list(range(ell)), list(range(ell)))
    if ell == 1:
        out = text.let("d1", out)
    text.output(out)
    return text, {"names": names, "out": out}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``primal`` or ``gradient`` at ``{"A": [...], "ell": ell}`` (row-major)."""
    ell = int(input["ell"])
    entries = [float(v) for v in input["A"]]
    if ell < 1 or len(entries) != ell * ell:
        raise Declined(f"det needs ell >= 1 and ell^2 entries (ell = {ell}, "
                       f"{len(entries)} entries)")
    check_size(f"det by expansion by minors for ell = {ell}", *size(ell))
    prepared = programs.get(("det", ell), lambda: _write(ell))
    names, out = prepared.info["names"], prepared.info["out"]
    program, at = prepared.program, dict(zip(names, entries, strict=True))
    if function == "primal":
        return programs.job(prepared, function,
                            lambda: evaluate(program, at, derivatives=False).values[out])
    if function == "gradient":
        def gradient():
            g = evaluate(program, at).gradient[out]
            return [g[name] for name in names]

        return programs.job(prepared, function, gradient)
    raise Declined(f"det has no function {function!r} (only primal and gradient)")
