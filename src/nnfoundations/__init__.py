"""nnfoundations: the foundations of neural networks as software you can run and inspect."""

from nnfoundations.engine import Value
from nnfoundations.explain import Explanation, explain
from nnfoundations.model import build_model, count_parameters
from nnfoundations.step import evaluate, train_one_step

__all__ = [
    "Explanation", "Value", "build_model", "count_parameters", "evaluate", "explain",
    "train_one_step",
]
__version__ = "0.1.0"
