"""Findings: faults injected on purpose are named, and clean runs raise no false alarm."""

import pytest
import torch

from nnfoundations import build_model, diagnose, fit
from nnfoundations.diagnosis import Curves


def trained(digits, scale=1.0, **kwargs):
    torch.manual_seed(0)
    settings = {"epochs": 30, "patience": 15, "seed": 0, "progress": False, **kwargs}
    return fit(build_model(64, [256, 128], 10, 0.2), (digits.X_train * scale, digits.y_train),
               (digits.X_val * scale, digits.y_val), **settings)


def names(history):
    return {f.name for f in diagnose(history).findings}


def test_a_clean_run_has_no_findings(digits):
    assert names(trained(digits)) == set()


def test_a_learning_rate_far_too_low_is_named(digits):
    found = diagnose(trained(digits, optimizer="sgd"))
    assert "lr_too_low" in {f.name for f in found.findings}
    assert found.verdict == "not_converged"


def test_a_learning_rate_far_too_high_kills_relus(digits):
    assert {"dying_relu", "lr_too_high"} <= names(trained(digits, lr=0.1))


def test_unscaled_inputs_are_named(digits):
    assert "unscaled_inputs" in names(trained(digits, scale=255.0, epochs=3))


def telemetry_run(norms, dead=0.0):
    loss = [2.0 / (k + 1) for k in range(len(norms))]
    return Curves(list(range(1, len(norms) + 1)), loss, loss, classes=10,
                  telemetry=[{"grad_norm": n, "update_ratio": {"0": 1e-3, "2": 1e-3},
                              "dead_relu": {"1": dead}} for n in norms])


@pytest.mark.parametrize(("norms", "expected"), [
    ([{"0": 1.0, "2": 1.0}] * 5, set()),
    ([{"0": 1e-6, "2": 1.0}] * 5, {"vanishing_gradients"}),
    ([{"0": 1.0 * 10**k, "2": 1.0} for k in range(5)], {"exploding_gradients"}),
    ([{"0": 1.0, "2": 1.0}, {"0": float("inf"), "2": 1.0}], {"exploding_gradients"}),
])
def test_gradient_findings_from_the_telemetry(norms, expected):
    assert {f.name for f in diagnose(telemetry_run(norms)).findings} == expected


def test_vanishing_gradients_are_named_first_even_where_units_are_also_dead():
    found = diagnose(telemetry_run([{"0": 1e-5, "2": 2.0}] * 5, dead=0.8)).findings
    assert [f.name for f in found][:2] == ["vanishing_gradients", "dying_relu"]


def test_a_stack_scaled_up_until_the_loss_blew_up_has_exploding_gradients(digits):
    torch.manual_seed(0)
    model = build_model(64, [64] * 8, 10)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(6.0)
    history = fit(model, (digits.X_train, digits.y_train), (digits.X_val, digits.y_val),
                  epochs=3, lr=1e-2, optimizer="sgd", seed=0, progress=False)
    assert "exploding_gradients" in names(history)


def test_a_foreign_log_that_blows_up_suggests_a_lower_learning_rate():
    loss = [1.0, 0.8, 2.0, 6.0, 20.0, 80.0]
    found = diagnose(Curves(list(range(6)), loss, loss)).findings
    assert [f.name for f in found] == ["lr_too_high"] and "lower" in found[0].fix
