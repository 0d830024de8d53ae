"""The assignment's worked examples of section 1, built as graphs of :class:`Value`.

The ``ŷ`` label is the only non-ASCII name; every input is a plain keyword value, so that a
caller can set any of them by name (``nnf explain network --at w11=0.9``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nnfoundations._errors import InvalidValueError
from nnfoundations.autodiff.engine import Value
from nnfoundations.autodiff.layers import Dense, Loss, explain_layers

#: The assignment's 1.1 value of the warm-up's weight.
WARMUP_DEFAULTS: dict[str, float] = {"w": 1.0}
#: The assignment's 1.2 values (NOTES.md): inputs, weights and target of the 2-2-1 network.
NETWORK_DEFAULTS: dict[str, float] = {
    "x1": 1.0, "x2": 2.0, "w11": 0.5, "w12": -0.3, "w21": 0.2, "w22": 0.8,
    "v1": 0.6, "v2": 0.4, "y": 1.0,
}


@dataclass
class Graph:
    """A built example: its output (the loss) and its nodes by name."""

    output: Value
    nodes: dict[str, Value]

    def node(self, name: str) -> Value:
        """The node called ``name``, to differentiate the output against.

        Raises:
            InvalidValueError: no such node, or the output itself; the message lists the
                nodes there are.
        """
        node = self.nodes.get(name)
        if node is None or node is self.output:
            choices = [k for k, v in self.nodes.items() if v is not self.output]
            raise InvalidValueError(f"--wrt {name!r} is not a node to differentiate "
                                    f"{self.output.label or 'the output'} against; choose one "
                                    f"of {choices}")
        return node


def warmup(w: float = WARMUP_DEFAULTS["w"]) -> Graph:
    """Section 1.1: ``z = 2w + 1``, ``a = ReLU(z)``, ``L = (a − 3)²``; at w = 1, dL/dw = 0.

    Example:
        >>> g = warmup(); g.output.backward(); g.nodes["w"].grad
        0.0
    """
    wv = Value(w, "w")
    z = (2 * wv + 1).named("z")
    a = z.relu().named("a")
    L = ((a - 3) ** 2).named("L")
    return Graph(L, {"w": wv, "z": z, "a": a, "L": L})


def network(**values: float) -> Graph:
    """Section 1.2: the 2-2-1 ReLU network without biases, with squared-error loss.

    ``z_k = w_k1·x1 + w_k2·x2``, ``h_k = ReLU(z_k)``, ``ŷ = v1·h1 + v2·h2``, ``L = (ŷ − y)²``;
    ``w_kj`` is the weight from input ``x_j`` to hidden unit ``h_k``.

    Args:
        **values: any of :data:`NETWORK_DEFAULTS` to override (the assignment's values otherwise).

    Example:
        >>> g = network(); g.output.backward(); round(g.nodes["w21"].grad, 12)
        -0.224
    """
    _known("network", values, NETWORK_DEFAULTS)
    n = {k: Value(values.get(k, v), k) for k, v in NETWORK_DEFAULTS.items()}
    n["z1"] = (n["w11"] * n["x1"] + n["w12"] * n["x2"]).named("z1")
    n["z2"] = (n["w21"] * n["x1"] + n["w22"] * n["x2"]).named("z2")
    n["h1"] = n["z1"].relu().named("h1")
    n["h2"] = n["z2"].relu().named("h2")
    n["ŷ"] = (n["v1"] * n["h1"] + n["v2"] * n["h2"]).named("ŷ")
    n["L"] = ((n["ŷ"] - n["y"]) ** 2).named("L")
    return Graph(n["L"], n)


def network_layers(**values: float) -> str:
    """Section 1.2's network as whole layers: the matrix chain rule on it, as text.

    ``W1 = [[w11, w12], [w21, w22]]``, ``W2 = [[v1, v2]]``, no biases, one row ``X = [x1,
    x2]``; it gives section 1.2's numbers from the matrix formulas.

    Example:
        >>> "∂L/∂w21 = (∂L/∂W1)[2,1] = δ1[:,2]ᵀ X[:,1] = -0.224" in network_layers()
        True
    """
    _known("network", values, NETWORK_DEFAULTS)
    v = {**NETWORK_DEFAULTS, **values}
    layers = [Dense([[v["w11"], v["w12"]], [v["w21"], v["w22"]]]),
              Dense([[v["v1"], v["v2"]]], relu=False)]
    names = {(1, 1, 1): "w11", (1, 1, 2): "w12", (1, 2, 1): "w21", (1, 2, 2): "w22",
             (2, 1, 1): "v1", (2, 1, 2): "v2"}
    return explain_layers(layers, [[v["x1"], v["x2"]]], [[v["y"]]], Loss.SQUARED, names)


#: Each example by name: how to build it, its inputs, and the node explained by default.
EXAMPLES: dict[str, tuple[Callable[..., Graph], dict[str, float], str]] = {
    "warmup": (warmup, WARMUP_DEFAULTS, "w"),
    "network": (network, NETWORK_DEFAULTS, "w21"),
}


def example(name: str, values: Mapping[str, float]) -> Graph:
    """Build the example ``name`` of :data:`EXAMPLES` with some inputs set by ``values``."""
    build, defaults, _ = EXAMPLES[name]
    _known(name, values, defaults)
    return build(**values)


def _known(name: str, values: Mapping[str, float], defaults: Mapping[str, float]) -> None:
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise InvalidValueError(f"{name} has no input {', '.join(map(repr, unknown))}; its "
                                f"inputs are {list(defaults)}")
