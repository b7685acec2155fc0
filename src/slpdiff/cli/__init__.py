"""The ``slpdiff`` command line: a thin Click layer over the library.

Only this package imports click, and only it prints. ``main.py`` holds the command group and the
error boundary; ``options.py`` what commands share; each ``cmd_*.py`` one command, imported only
when it runs or its help is shown (so that ``slpdiff eval`` does not pay for ``optimize``).
"""

from .main import cli, main, run

# One line per command: its name, and where it is (module in this package: Click command).
COMMANDS = {
    "eval": "cmd_eval:eval_command",
    "optimize": "cmd_optimize:optimize_command",
    "functions": "cmd_functions:functions_command",
    "grad": "cmd_grad:grad_command",
    "check": "cmd_check:check_command",
    "trace": "cmd_trace:trace_command",
    "graph": "cmd_graph:graph_command",
    "explain": "cmd_explain:explain_command",
    "check-adjoint": "cmd_check_adjoint:check_adjoint_command",
    "exercise": "cmd_exercise:exercise_command",
    "cost": "cmd_cost:cost_command",
    "eliminate": "cmd_cost:eliminate_command",
    "lesson": "cmd_lesson:lesson_command",
    "gradbench": "cmd_gradbench:gradbench_command",
}

cli.register(COMMANDS)

__all__ = ["COMMANDS", "cli", "main", "run"]
