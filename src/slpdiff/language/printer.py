"""``Program`` -> SLP text: the inverse of the parser, for any program (parsed, built with the
``Var`` API, or generated, such as an adjoint program).

Printing has two steps. :func:`layout` decides which nodes become statements and under which
names: named nodes and nodes used more than once are statements, a node used once is written inside
the expression that uses it (up to a size and nesting limit), every name is a valid, unreserved and
unique SLP name (invalid or clashing names from ``Var`` graphs are replaced). :func:`to_slp` then
writes ``input``, one statement per line with the fewest parentheses that parse back to the same
tree, aliases for outputs named apart from their node (``y = x``), and ``output``. Comments come
from a :class:`Comments` (by default, the program's own source comments).

Every walk is a loop over the program's positions; expressions are flattened with an explicit
stack, so programs of a million statements print in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..formats import number
from .primitives import CONSTANTS, KEYWORDS, PRIMITIVES
from .program import Program

RESERVED = frozenset(PRIMITIVES) | frozenset(CONSTANTS) | frozenset(KEYWORDS)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The grammar's binding strengths (grammar/slp.lark), loosest first, by operator spelling.
_BINARY_LEVEL = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}
_UNARY = 3
_ATOM = 5

MAX_INLINE_OPS = 400  # operations written inside one statement before a part gets its own name
MAX_INLINE_DEPTH = 40  # nesting depth of one statement's expression


def valid_name(name: object) -> bool:
    """True if ``name`` can be assigned in a program: an SLP name that is not reserved."""
    return isinstance(name, str) and bool(_NAME.match(name)) and name not in RESERVED


def sanitize(text: str) -> str:
    """``text`` made into an SLP name: other characters become ``_``; reserved names get ``_``."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text or "") or "_"
    if name[0].isdigit():
        name = "_" + name
    return name + "_" if name in RESERVED else name


class Names:
    """Hands out SLP names that are valid and collide with no name already taken."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken = set(taken) | RESERVED
        self._next: dict[str, int] = {}

    def claim(self, name: str) -> bool:
        """Take ``name`` if it is valid and free; False otherwise."""
        if not valid_name(name) or name in self.taken:
            return False
        self.taken.add(name)
        return True

    def fresh(self, base: str, numbered: bool = False) -> str:
        """``base`` if free, else ``base_2``, ``base_3``...; numbered: ``base_1``, ``base_2``..."""
        base = sanitize(base)
        k = self._next.get(base, 1 if numbered else 2)
        name = f"{base}_{k}" if numbered else base
        while name in self.taken:
            name = f"{base}_{k}"
            k += 1
        self._next[base] = k
        self.taken.add(name)
        return name


@dataclass
class Layout:
    """How a program is printed: which nodes are statements and every printed name."""

    program: Program
    names: list[str | None]  # per node: its name if it is an input or a statement, else None
    input_names: list[str]
    output_names: list[str]
    roots: list[int | None]  # per node: the statement it belongs to (the next named node)


def layout(program: Program, max_ops: int = MAX_INLINE_OPS,
           max_depth: int = MAX_INLINE_DEPTH) -> Layout:
    """Choose statements and names for printing ``program`` (see the module docstring)."""
    ops, node_names = program.ops, program.names
    n = len(program)
    names: list[str | None] = [None] * n
    allocator = Names()
    # Interface names first (inputs, then outputs), then the program's own names, so that a
    # generated name can never take a name the program uses later.
    input_names = []
    for k, i in enumerate(program.input_index):
        name = program.input_names[k]
        names[i] = name if allocator.claim(name) else allocator.fresh(name)
        input_names.append(names[i])
    output_names = []
    for k, i in enumerate(program.output_index):
        name = program.output_names[k]
        if name == names[i] or allocator.claim(name):
            output_names.append(name)
        else:
            output_names.append(allocator.fresh(name))
        if names[i] is None and node_names[i] in (None, name):
            names[i] = output_names[-1]  # an unnamed output node takes the output's name
    for i, own in enumerate(node_names):
        if names[i] is None and own is not None and allocator.claim(own):
            names[i] = own
    for i, own in enumerate(node_names):
        if names[i] is None and own is not None:
            names[i] = allocator.fresh(own)

    roots = _roots(program, names)
    uses = [0] * n
    for args in program.args:
        for a in args:
            uses[a] += 1
    for i in program.output_index:
        uses[i] += 1
    size = [0] * n  # operations written inline in this node's expression
    depth = [0] * n
    for i, op in enumerate(ops):
        if op is None:
            continue
        inline = [a for a in program.args[i] if names[a] is None and ops[a] is not None]
        while True:
            size[i] = 1 + sum(size[a] for a in inline)
            depth[i] = 1 + max((depth[a] for a in inline), default=0)
            if (size[i] <= max_ops and depth[i] <= max_depth) or not inline:
                break
            big = max(inline, key=lambda a: (size[a], depth[a]))
            names[big] = _temp_name(allocator, names, roots, big)
            inline = [a for a in inline if a != big]
        if names[i] is None and uses[i] != 1:
            names[i] = _temp_name(allocator, names, roots, i)
    return Layout(program, names, input_names, output_names, roots)


def _roots(program: Program, names: list[str | None]) -> list[int | None]:
    """Per node: the named statement it is part of (following its first use), or None."""
    user: list[int | None] = [None] * len(names)
    for i, args in enumerate(program.args):
        for a in args:
            if user[a] is None:
                user[a] = i
    roots: list[int | None] = [None] * len(names)
    for i in range(len(names) - 1, -1, -1):  # a user comes after its arguments
        if names[i] is not None and not program.is_input(i):
            roots[i] = i
        elif user[i] is not None:
            roots[i] = roots[user[i]]
    return roots


def _temp_name(allocator: Names, names: list[str | None], roots: list[int | None],
               i: int) -> str:
    # A part of a statement is named after it: the parts of `v3 = ...` are v3_1, v3_2...
    root = roots[i]
    return allocator.fresh(names[root] if root is not None and root != i else "t", numbered=True)


# --- comments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stmt:
    """In a comment: the printed statement of the node at ``position`` (``v3 = v1 + v2``)."""

    position: int


@dataclass
class Comments:
    """Comment lines to print with a program. Each line is ``"# text"``, ``""`` (a blank line), or
    a tuple of strings and :class:`Stmt` parts that is printed after ``# ``."""

    header: list = field(default_factory=list)  # before the input declaration
    above: dict[int, list] = field(default_factory=dict)  # node position -> lines above it
    trailing: dict[int, str] = field(default_factory=dict)  # node position -> end-of-line comment
    footer: list = field(default_factory=list)  # before the output declaration
    input_trailing: str = ""
    output_trailing: str = ""
    alias_above: dict[int, list] = field(default_factory=dict)  # output position -> lines


def source_comments(program: Program) -> Comments:
    """The comments (and blank lines) of the text ``program`` was parsed from, attached to the
    statements they stand above or beside. Empty when the program has no source text."""
    comments = Comments()
    if program.source is None:
        return comments
    by_line: dict[int, list[int]] = {}
    lines = program.lines
    for i, name in enumerate(program.names):
        if name is not None and lines[i] and not program.is_input(i):
            by_line.setdefault(lines[i], []).append(i)
    pending: list[str] = []
    seen_statement = False
    for line_no, text in enumerate(program.source.text.split("\n"), start=1):
        code, hash_, comment = text.rstrip("\r").partition("#")
        comment = hash_ + comment
        statements = by_line.get(line_no)
        if statements:
            comments.above.setdefault(statements[0], []).extend(pending)
            pending = []
            seen_statement = True
            if comment:
                comments.trailing[statements[-1]] = comment
        elif not code.strip():
            if comment or (pending or seen_statement or comments.header):
                pending.append(comment)
        elif re.match(r"\s*input\b", code) and not seen_statement:
            comments.header.extend(pending)
            pending = []
            if comment:
                comments.input_trailing = (comments.input_trailing + " " + comment).strip()
        elif re.match(r"\s*output\b", code) and comment:
            comments.output_trailing = (comments.output_trailing + " " + comment).strip()
    while pending and pending[-1] == "":
        pending.pop()
    if not seen_statement:
        comments.header.extend(pending)
    else:
        comments.footer.extend(pending)
    return comments


# --- writing SLP -------------------------------------------------------------------------------


def to_slp(program: Program, comments: Comments | None = None, lay: Layout | None = None) -> str:
    """The program as SLP text that parses back to the same computation (same values, bit for
    bit). ``comments`` defaults to the program's own source comments."""
    lay = lay or layout(program)
    comments = source_comments(program) if comments is None else comments
    writer = SlpWriter(lay)
    out: list[str] = []
    printed_above: set[int] = set()

    def emit_comments(lines) -> None:
        for line in lines:
            out.append(writer.comment(line))

    emit_comments(comments.header)
    if lay.input_names:
        line = f"input {', '.join(lay.input_names)}"
        out.append(f"{line}  {comments.input_trailing}" if comments.input_trailing else line)
    for i in range(len(program)):
        if lay.names[i] is None or program.is_input(i):
            continue
        root = lay.roots[i]
        for owner in (root, i):  # a statement's own comments go above its first part
            if owner is not None and owner in comments.above and owner not in printed_above:
                printed_above.add(owner)
                emit_comments(comments.above[owner])
        line = writer.statement(i)
        trailing = comments.trailing.get(i)
        out.append(f"{line}  {trailing}" if trailing else line)
    emit_comments(comments.footer)
    for k, (name, i) in enumerate(zip(lay.output_names, program.output_index, strict=True)):
        if name != lay.names[i]:
            emit_comments(comments.alias_above.get(k, []))
            out.append(f"{name} = {writer.reference(i)}")  # an alias such as `y = x`
    if lay.output_names:
        line = f"output {', '.join(lay.output_names)}"
        out.append(f"{line}  {comments.output_trailing}" if comments.output_trailing else line)
    return "\n".join(out) + "\n"


def slp_number(x: float) -> tuple[str, int]:
    """A constant as SLP text and its binding level: the shortest text that reads back to the
    same float64 (``2`` for 2.0; ``pi`` and ``e`` by name; infinities as ``1e999``)."""
    x = float(x)
    for name, value in CONSTANTS.items():
        if x == value:
            return name, _ATOM
    if x != x:
        return "(1e999 - 1e999)", _ATOM  # nan has no literal; this expression is nan
    if x in (float("inf"), float("-inf")):
        text = "1e999" if x > 0 else "-1e999"
    else:
        text = number(x)
        if text.endswith(".0"):
            text = text[:-2]
    return text, (_UNARY if text.startswith("-") else _ATOM)


class SlpWriter:
    """Renders statements and expressions of a laid-out program, each node's text pieces once."""

    def __init__(self, lay: Layout):
        self.lay = lay
        self.program = lay.program
        self.ops = lay.program.ops
        self.consts = lay.program.consts
        self.args = lay.program.args
        self._pieces: dict[int, tuple] = {}

    def level(self, i: int) -> int:
        op = self.ops[i]
        if self.lay.names[i] is not None or op is None:
            return slp_number(self.consts[i])[1] if self.lay.names[i] is None else _ATOM
        if op.infix is None or self._sign_of_constant(i):
            return _ATOM
        return _UNARY if op.arity == 1 else _BINARY_LEVEL[op.infix]

    def _sign_of_constant(self, i: int) -> bool:
        """True for a prefix operator on an unnamed constant, such as ``negative(0.5)``: written
        ``-0.5`` it would parse back as one constant (the parser folds signed literals), so it is
        written as a call."""
        op = self.ops[i]
        if op is None or op.infix is None or op.arity != 1:
            return False
        a = self.args[i][0]
        return self.ops[a] is None and self.lay.names[a] is None and \
            not self.program.is_input(a)

    def operand(self, i: int, parens: bool) -> tuple:
        """The pieces that refer to node ``i`` inside another expression."""
        if self.lay.names[i] is not None:
            return (self.lay.names[i],)
        if self.ops[i] is None:
            text = slp_number(self.consts[i])[0]
            return (f"({text})",) if parens else (text,)
        return ("(", i, ")") if parens else (i,)

    def pieces(self, i: int) -> tuple:
        """Node ``i``'s expression as strings and positions of inline operands to expand."""
        found = self._pieces.get(i)
        if found is not None:
            return found
        op = self.ops[i]
        if op is None:
            return self.operand(i, False)
        args = self.args[i]
        if op.infix is not None and op.arity == 2:
            level = _BINARY_LEVEL[op.infix]
            left, right = args
            if op.infix == "^":  # right-associative; the base must be an atom
                parts = (*self.operand(left, self.level(left) < _ATOM), op.infix,
                         *self.operand(right, self.level(right) < _UNARY))
            else:
                parts = (*self.operand(left, self.level(left) < level), f" {op.infix} ",
                         *self.operand(right, self.level(right) <= level))
        elif op.infix is not None and op.arity == 1 and not self._sign_of_constant(i):
            parts = (op.infix, *self.operand(args[0], self.level(args[0]) < _UNARY))
        else:
            parts = [f"{op.name}("]
            for k, a in enumerate(args):
                if k:
                    parts.append(", ")
                parts.extend(self.operand(a, False))
            parts = (*parts, ")")
        self._pieces[i] = parts
        return parts

    def expression(self, i: int) -> str:
        """The text of node ``i``'s expression (its operands by name or written inline)."""
        out: list[str] = []
        stack: list = [i]
        while stack:  # an explicit stack: deep expressions need no recursion
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
            else:
                stack.extend(reversed(self.pieces(item)))
        return "".join(out)

    def reference(self, i: int) -> str:
        """How another statement refers to node ``i``: its name, a number, or its expression."""
        return "".join(self.operand(i, False)) if self.ops[i] is None or \
            self.lay.names[i] is not None else self.expression(i)

    def statement(self, i: int) -> str:
        """``name = expression`` for the statement node ``i``."""
        if self.ops[i] is None:
            return f"{self.lay.names[i]} = {slp_number(self.consts[i])[0]}"
        return f"{self.lay.names[i]} = {self.expression(i)}"

    def comment(self, line) -> str:
        if isinstance(line, str):
            return line
        return "# " + "".join(self.describe(p.position) if isinstance(p, Stmt) else str(p)
                              for p in line)

    def describe(self, i: int) -> str:
        """Node ``i`` as its statement (``v3 = v1 + v2``), ``input x``, or its expression."""
        if self.program.is_input(i):
            return f"input {self.lay.names[i]}"
        if self.lay.names[i] is not None:
            return self.statement(i)
        return self.expression(i)
