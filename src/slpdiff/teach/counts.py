"""Operation and memory counts of the engine's sweeps: the cheap gradient principle, counted.

An operation is one call of a function of the table (``+``, ``*``, ``sin``, ...), as the engine
makes it:

- the forward sweep: one per statement (every part of a nested expression counts);
- the reverse sweep for an output: per term of :func:`~slpdiff.core.schedule.sweep_terms`, the
  rule's operations (a rule's constant parts are computed once, when the table is read, and the
  node's own value is reused, free), one multiplication by the adjoint (none for a rule that is 1;
  a negation for -1) and one addition (none for an adjoint's first term);
- a tangent sweep for an input: the same per term of forward mode, for the nodes that depend on
  the input.

The tape is what the reverse sweep reads of the forward sweep: the values its rules use (an
argument, or the node's own value). The Jacobian of ``m`` outputs in ``n`` inputs costs one forward
sweep and ``m`` reverse sweeps in reverse mode, ``n`` tangent sweeps (each with its values) in
forward mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.adjoint import size_bound
from ..core.schedule import depends, plan, sweep_terms
from ..language.program import Program
from ..language.rules import Rule, rules_for


@dataclass
class Counts:
    """Operation counts of one program."""

    forward: int  # operations of the forward sweep
    reverse: dict[str, int] = field(default_factory=dict)  # per output: its reverse sweep
    tangent: dict[str, int] = field(default_factory=dict)  # per input: its tangent sweep
    tape: dict[str, int] = field(default_factory=dict)  # per output: values the sweep reads
    adjoints: dict[str, int] = field(default_factory=dict)  # per output: adjoints it keeps
    bound: int = 0  # the most operations any statement can add to one reverse sweep

    @property
    def jacobian_reverse(self) -> int:
        """One forward sweep, then one reverse sweep per output."""
        return self.forward + sum(self.reverse.values())

    @property
    def jacobian_forward(self) -> int:
        """One tangent sweep per input, each carrying the values (a forward sweep) along."""
        return sum(self.forward + t for t in self.tangent.values()) or self.forward


def rule_operations(rule: Rule) -> int:
    """The operations one evaluation of ``rule`` makes (its used steps that call a function)."""
    if rule.const is not None:
        return 0
    return sum(1 for used, step in zip(rule.used, rule.steps, strict=True)
               if used and step[0] == "op")


def count(program: Program) -> Counts:
    """The operation counts of ``program``'s sweeps (see the module docstring)."""
    result = Counts(sum(1 for op in program.ops if op is not None), bound=size_bound())
    needs = depends(program, None)
    for name, o in zip(program.output_names, program.output_index, strict=True):
        ops, read, reached = 0, set(), {o}
        for e in sweep_terms(program, needs, o):
            ops += _term_cost(e.rule) + (0 if e.first else 1)
            reached.add(e.c)
            if e.rule.const is None:
                read.update(_values_read(program, e.i, e.rule))
        result.reverse[name] = ops
        result.tape[name] = len(read)
        result.adjoints[name] = len(reached)
    rules = plan(program).rules
    for name, x in zip(program.input_names, program.input_index, strict=True):
        has = depends(program, [x])
        ops = 0
        for i, args in enumerate(program.args):
            terms = [r for r, c in zip(rules[i], args, strict=True) if has[c] and r.const != 0.0]
            ops += sum(_term_cost(r) for r in terms) + max(len(terms) - 1, 0)
        result.tangent[name] = ops
    return result


def _term_cost(rule: Rule) -> int:
    """The rule and the multiplication by the adjoint (or tangent) it is applied to."""
    if rule.const == 1.0:
        return 0
    return rule_operations(rule) + 1


def _values_read(program: Program, i: int, rule: Rule) -> set[int]:
    nodes = set()
    for used, step in zip(rule.used, rule.steps, strict=True):
        if used and step[0] == "param":
            nodes.add(program.args[i][step[1]])
        elif used and step[0] == "own":
            nodes.add(i)
    return {n for n in nodes if not (program.ops[n] is None and not program.is_input(n))}


def costliest_rule() -> tuple[str, int]:
    """The function whose statement costs a reverse sweep the most operations, and how many."""
    from ..language.primitives import PRIMITIVES

    def cost(prim) -> int:
        return sum(_term_cost(r) + 1 for r in rules_for(prim) if r.const != 0.0)

    name = max(PRIMITIVES, key=lambda n: cost(PRIMITIVES[n]))
    return name, cost(PRIMITIVES[name])


def count_table(program: Program, counts: Counts):
    """The counts as a table: each sweep's operations and their ratio to the forward sweep."""
    from .tables import Table

    f = counts.forward or 1
    table = Table(f"Operations of the engine's sweeps (one per call of a function of the table); "
                  f"{_count(len(program.input_names), 'input')}, "
                  f"{_count(len(program.output_names), 'output')}",
                  ["sweep", "operations", "ratio to f", "tape", "adjoints"], "lrrrr",
                  [False] * 5)
    table.rows.append(["f: the forward sweep", str(counts.forward), "1", "", ""])
    for name, ops in counts.reverse.items():
        table.rows.append([f"reverse sweep for {name}", str(ops), _ratio(ops, f),
                           str(counts.tape[name]), str(counts.adjoints[name])])
        table.rows.append([f"gradient of {name} (f + reverse)", str(counts.forward + ops),
                           _ratio(counts.forward + ops, f), "", ""])
    for name, ops in counts.tangent.items():
        table.rows.append([f"tangent sweep for {name}", str(ops), _ratio(ops, f), "", ""])
    m, n = len(counts.reverse), len(counts.tangent)
    table.rows.append([f"Jacobian by reverse mode (f + {m} reverse)",
                       str(counts.jacobian_reverse), _ratio(counts.jacobian_reverse, f), "", ""])
    table.rows.append([f"Jacobian by forward mode ({n} x (f + tangent))",
                       str(counts.jacobian_forward), _ratio(counts.jacobian_forward, f), "", ""])
    name, most = costliest_rule()
    table.footer = [
        "tape: the forward values the reverse sweep reads; adjoints: the ones it computes",
        f"cheap gradient principle: a reverse sweep costs at most {most} operations per "
        f"statement of f (the costliest, {name}), so the gradient at most {most + 1} times f "
        "whatever the number of inputs"]
    return table


def _ratio(ops: int, forward: int) -> str:
    return f"{ops / forward:.2f}"


def _count(n: int, noun: str) -> str:
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun[:-2]}ices" if noun.endswith("ex") else f"{n} {noun}s"
