"""The scalar autodiff engine and its explanations (the assignment's section 1).

Standard library only: no torch, numpy or matplotlib, so ``nnf explain`` starts at once.
"""

from nnfoundations.autodiff.engine import Value
from nnfoundations.autodiff.explain import Explanation, Factor, explain
from nnfoundations.autodiff.expr import ExpressionError, parse_expression

__all__ = ["ExpressionError", "Explanation", "Factor", "Value", "explain", "parse_expression"]
