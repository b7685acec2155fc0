"""The ``slpdiff`` command line: a thin Click layer over the library.

Only this package imports click, and only it prints. ``main.py`` holds the command group and the
error boundary; ``options.py`` what commands share; each ``cmd_*.py`` one command.
"""

from .cmd_check import check_command
from .cmd_check_adjoint import check_adjoint_command
from .cmd_cost import cost_command, eliminate_command
from .cmd_eval import eval_command
from .cmd_exercise import exercise_command
from .cmd_explain import explain_command
from .cmd_functions import functions_command
from .cmd_grad import grad_command
from .cmd_gradbench import gradbench_command
from .cmd_graph import graph_command
from .cmd_lesson import lesson_command
from .cmd_optimize import optimize_command
from .cmd_trace import trace_command
from .main import cli, main

for _command in (eval_command, optimize_command, functions_command, grad_command, check_command,
                 trace_command, graph_command, explain_command, check_adjoint_command,
                 exercise_command, cost_command, eliminate_command):
    cli.add_command(_command)
cli.add_command(lesson_command)
cli.add_command(gradbench_command)

__all__ = ["cli", "main"]
