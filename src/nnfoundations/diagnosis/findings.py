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
from nnfoundations.diagnosis.features import Reading
from nnfoundations.diagnosis.kinds import Finding, FindingKind, Verdict
from nnfoundations.history import StopKind

#: dying_relu: a layer where at least this share of units never fired on the sample.
DEAD_SHARE = 0.5
#: vanishing_gradients: first/last layer gradient norm ratio below this, and the first
#: layer's norm below ``VANISH_NORM`` (AUTOTRAINER), dead units or not.
VANISH_RATIO, VANISH_NORM = 1e-3, 1e-4
#: exploding_gradients: the ratio above this (AUTOTRAINER), or a norm this many times its
#: first epoch's.
EXPLODE_RATIO, EXPLODE_GROWTH = 70.0, 100.0
#: ... or, where the loss blew up, a layer's norm above this: a hundred times what
#: ``clip_grad_norm_`` is commonly set to, where a standardised MLP's norms sit near 1.
EXPLODE_NORM = 100.0
#: One step's update against the weights (‖ΔW‖/‖W‖, median over layers): about 1e-3 is
#: healthy; above ``RATIO_HIGH`` the steps overshoot, below ``RATIO_LOW`` they barely move.
RATIO_HIGH, RATIO_LOW = 0.1, 1e-4
#: unscaled_inputs: features whose standard deviation or largest magnitude exceed these.
INPUT_STD, INPUT_MAX = 10.0, 100.0


#: lr_too_low from the curves alone: a loss still falling whose noise is under this share
#: of its level (a smooth, slow descent rather than a noisy one).
SMOOTH = 0.01


def findings(run: Curves, reading: Reading | None, verdict: Verdict) -> list[Finding]:
    """The symptoms of ``run``, given how its curves read and its verdict. The telemetry
    names a root cause where it can; the curves alone suggest the learning rate."""
    found = _from_telemetry(run, verdict) if run.telemetry else []
    kinds = {f.kind for f in found}
    if FindingKind.LR_TOO_HIGH not in kinds and verdict in (Verdict.DIVERGED,
                                                            Verdict.UNSTABLE):
        what = "blew up" if verdict == Verdict.DIVERGED else "swung or degraded"
        found.append(Finding(FindingKind.LR_TOO_HIGH, f"the loss {what} (see the verdict)",
                             _lr_fix(run, 0.1)))
    if FindingKind.LR_TOO_LOW not in kinds and not run.telemetry and reading is not None \
            and verdict == Verdict.NOT_CONVERGED and reading.features.noise_level < SMOOTH:
        third = reading.monitored.tail(1 / 3)
        rate = (third[0] - third[-1]) / max(third[0], 1e-300) / max(len(third) - 1, 1)
        found.append(Finding(FindingKind.LR_TOO_LOW, f"the loss falls steadily but slowly, "
                             f"{rate:.1%} per epoch", _lr_fix(run, 10)))
    return found


def _lr_fix(run: Curves, factor: float) -> str:
    way = "lower" if factor < 1 else "raise"
    to = f", to about {run.lr * factor:.2g}" if run.lr else ""
    return f"{way} the learning rate about {max(factor, 1 / factor):.0f}x{to} (nnf lr-find " \
        "suggests one)"


def _from_telemetry(run: Curves, verdict: Verdict) -> list[Finding]:
    telemetry = run.telemetry
    last = telemetry[-1]
    found = []
    dead = {k: v for k, v in (last.get("dead_relu") or {}).items() if v >= DEAD_SHARE}
    if dead:
        worst = max(dead, key=dead.__getitem__)
        found.append(Finding(FindingKind.DYING_RELU, f"{dead[worst]:.0%} of the units of ReLU "
                             f"layer {worst} never fired on a sample batch in the last epoch",
                             "lower the learning rate, or use LeakyReLU / a smaller init"))
    ratios = [statistics.median(t["update_ratio"].values()) for t in telemetry
              if t.get("update_ratio")]
    overshoot = bool(ratios) and max(ratios) > RATIO_HIGH
    # the gradients' own story is told whether or not units died too: a vanishing first
    # layer or an exploding stack is the root cause to name first; but where the steps
    # overshoot or the run blew up, a silent first layer is what the dead units did
    calm = not overshoot and verdict not in (Verdict.DIVERGED, Verdict.UNSTABLE)
    found = _gradients(telemetry, run.stop_kind == StopKind.NON_FINITE or
                       verdict == Verdict.DIVERGED, calm) + found
    if overshoot:
        found.append(Finding(FindingKind.LR_TOO_HIGH, f"a step changed the weights by "
                             f"{max(ratios):.2g} of their size (above {RATIO_HIGH}; about 1e-3 "
                             "is healthy)",
                             _lr_fix(run, 0.1)))
    elif ratios and statistics.median(ratios) < RATIO_LOW and verdict != Verdict.GOOD_FIT:
        found.append(Finding(FindingKind.LR_TOO_LOW, f"a step changes the weights by "
                             f"{statistics.median(ratios):.2g} of their size (below {RATIO_LOW}; "
                             "about 1e-3 is healthy)", _lr_fix(run, 10)))
    first = telemetry[0]
    std, biggest = first.get("input_std"), first.get("input_max_abs")
    if std is not None and biggest is not None and (std > INPUT_STD or biggest > INPUT_MAX):
        found.append(Finding(FindingKind.UNSCALED_INPUTS, f"the inputs have standard "
                             f"deviation {std:.3g} and reach {biggest:.3g}", "standardise the "
                             "features (nnf train does), or scale them to [0, 1]"))
    return found


def _gradients(telemetry: list[dict[str, Any]], blew_up: bool, calm: bool) -> list[Finding]:
    """Vanishing (only in a ``calm`` run, whose steps did not overshoot) or exploding
    gradients, read from the layers' norms: the first layer's against the last one's, their
    growth over the run, and (where the loss ``blew_up``) their size."""
    norms = [t["grad_norm"] for t in telemetry if t.get("grad_norm")]
    layers = [k for k in norms[0] if k in norms[-1]] if norms else []  # a log may rename
    if not layers:
        return []
    first, last = norms[0], norms[-1]
    fix = "lower the learning rate, or clip the gradients"
    if any(not math.isfinite(v) for v in last.values()):
        return [Finding(FindingKind.EXPLODING_GRADIENTS, "a gradient norm became non-finite",
                        fix)]
    growth = max((last[k] / first[k] for k in layers if first[k] > 0), default=1.0)
    ratio = last[layers[0]] / last[layers[-1]] if last[layers[-1]] > 0 else math.inf
    if calm and len(layers) > 1 and ratio < VANISH_RATIO and last[layers[0]] < VANISH_NORM:
        return [Finding(FindingKind.VANISHING_GRADIENTS, f"the first layer's gradient norm "
                        f"{last[layers[0]]:.2g} is {ratio:.2g} of the last layer's",
                        "use fewer layers, residual connections or normalisation")]
    if (len(layers) > 1 and ratio > EXPLODE_RATIO) or growth > EXPLODE_GROWTH:
        return [Finding(FindingKind.EXPLODING_GRADIENTS, f"gradient norms grew {growth:.3g}x "
                        f"over the run; first/last layer ratio {ratio:.3g}", fix)]
    biggest = max(max(n[k] for k in layers) for n in norms)
    if blew_up and biggest > EXPLODE_NORM:
        return [Finding(FindingKind.EXPLODING_GRADIENTS, f"the loss blew up with a layer's "
                        f"gradient norm at {biggest:.3g} (above {EXPLODE_NORM:.0f})", fix)]
    return []
