"""The method: reverse mode and everything built from it, each once, in its reference form.

``schedule`` (facts about a program shared by every evaluator, and the ONE order of the reverse
sweep) <- ``engine`` (the reference: forward evaluation and the reverse sweep; read it to learn the
method) <- ``tangent`` (forward mode), ``kinks`` (derivatives taken where a function is not
differentiable), ``adjoint`` (the reverse sweep written out as a program: ``slpdiff grad``) <-
``hessian`` (forward over the adjoint program) and ``emit_python`` (an adjoint program as Python).
"""
