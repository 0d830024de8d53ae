"""Symptoms behind a verdict, each with its evidence and a fix.

From ``fit()``'s telemetry (per-layer gradient norms, the update-to-weight ratio of a step,
the share of ReLU units that never fire, the inputs' scale) and from the curves alone for
any other log. The thresholds follow the published rules of AUTOTRAINER and SageMaker
Debugger where they exist; a clean run has none.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.rules import Finding

#: dying_relu: a layer where at least this share of units never fired on the sample.
DEAD_SHARE = 0.5
#: vanishing_gradients: first/last layer gradient norm ratio below this, and the first
#: layer's norm below ``VANISH_NORM`` (AUTOTRAINER).
VANISH_RATIO, VANISH_NORM = 1e-3, 1e-4
#: exploding_gradients: the ratio above this (AUTOTRAINER), or a norm this many times its
#: first epoch's.
EXPLODE_RATIO, EXPLODE_GROWTH = 70.0, 100.0
#: One step's update against the weights (‖ΔW‖/‖W‖, median over layers): about 1e-3 is
#: healthy; above ``RATIO_HIGH`` the steps overshoot, below ``RATIO_LOW`` they barely move.
RATIO_HIGH, RATIO_LOW = 0.1, 1e-4
#: unscaled_inputs: features whose standard deviation or largest magnitude exceed these.
INPUT_STD, INPUT_MAX = 10.0, 100.0


def findings(run: Curves, facts: dict[str, Any], verdict: str) -> list[Finding]:
    """The symptoms of ``run``, given the rules' figures and its verdict."""
    found = _from_telemetry(run, verdict) if run.telemetry else []
    names = {f.name for f in found}
    if "lr_too_high" not in names and (facts.get("blow_up") or facts.get("oscillation")
                                       or facts.get("collapse")):
        what = "blew up" if facts.get("blow_up") else "swung or collapsed"
        found.append(Finding("lr_too_high", f"the loss {what} (see the verdict)",
                             _lr_fix(run, 0.1)))
    rate = facts.get("fall_rate")
    if "lr_too_low" not in names and not run.telemetry and verdict == "not_converged" \
            and rate is not None and rate < 0.03 and facts.get("noise_share", 1.0) < 0.01:
        found.append(Finding("lr_too_low", f"the loss falls steadily but slowly, {rate:.1%} "
                             "per epoch", _lr_fix(run, 10)))
    return found


def _lr_fix(run: Curves, factor: float) -> str:
    way = "lower" if factor < 1 else "raise"
    to = f", to about {run.lr * factor:.2g}" if run.lr else ""
    return f"{way} the learning rate about {max(factor, 1 / factor):.0f}x{to} (nnf lr-find " \
        "suggests one)"


def _from_telemetry(run: Curves, verdict: str) -> list[Finding]:
    telemetry = run.telemetry
    last = telemetry[-1]
    found = []
    dead = {k: v for k, v in (last.get("dead_relu") or {}).items() if v >= DEAD_SHARE}
    if dead:
        worst = max(dead, key=dead.__getitem__)
        found.append(Finding("dying_relu", f"{dead[worst]:.0%} of the units of ReLU layer "
                             f"{worst} never fired on a sample batch in the last epoch",
                             "lower the learning rate, or use LeakyReLU / a smaller init"))
    if not dead:  # dead units block the gradient themselves: that is the cause to name
        found += _gradients(telemetry)
    ratios = [statistics.median(t["update_ratio"].values()) for t in telemetry
              if t.get("update_ratio")]
    if ratios and max(ratios) > RATIO_HIGH:
        found.append(Finding("lr_too_high", f"a step changed the weights by {max(ratios):.2g} "
                             f"of their size (above {RATIO_HIGH}; about 1e-3 is healthy)",
                             _lr_fix(run, 0.1)))
    elif ratios and statistics.median(ratios) < RATIO_LOW and verdict != "good_fit":
        found.append(Finding("lr_too_low", f"a step changes the weights by "
                             f"{statistics.median(ratios):.2g} of their size (below {RATIO_LOW}; "
                             "about 1e-3 is healthy)", _lr_fix(run, 10)))
    first = telemetry[0]
    std, biggest = first.get("input_std"), first.get("input_max_abs")
    if std is not None and biggest is not None and (std > INPUT_STD or biggest > INPUT_MAX):
        found.append(Finding("unscaled_inputs", f"the inputs have standard deviation {std:.3g} "
                             f"and reach {biggest:.3g}", "standardise the features (nnf train "
                             "does), or scale them to [0, 1]"))
    return found


def _gradients(telemetry: list[dict[str, Any]]) -> list[Finding]:
    norms = [t["grad_norm"] for t in telemetry if t.get("grad_norm")]
    if not norms:
        return []
    last = norms[-1]
    layers = [k for k in norms[0] if k in last]  # a log's epochs may name other layers
    if not layers:
        return []
    first_layer, last_layer = layers[0], layers[-1]
    if any(not math.isfinite(v) for v in last.values()):
        return [Finding("exploding_gradients", "a gradient norm became non-finite",
                        "lower the learning rate, or clip the gradients")]
    growth = max(last[k] / norms[0][k] for k in layers if norms[0][k] > 0) \
        if any(norms[0][k] > 0 for k in layers) else 1.0
    ratio = last[first_layer] / last[last_layer] if last[last_layer] > 0 else math.inf
    if len(layers) > 1 and ratio < VANISH_RATIO and last[first_layer] < VANISH_NORM:
        return [Finding("vanishing_gradients", f"the first layer's gradient norm "
                        f"{last[first_layer]:.2g} is {ratio:.2g} of the last layer's",
                        "use fewer layers, residual connections or normalisation")]
    if (len(layers) > 1 and ratio > EXPLODE_RATIO) or growth > EXPLODE_GROWTH:
        return [Finding("exploding_gradients", f"gradient norms grew {growth:.3g}x over the "
                        f"run; first/last layer ratio {ratio:.3g}",
                        "lower the learning rate, or clip the gradients")]
    return []
