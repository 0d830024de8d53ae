"""The loop's seam: a user's hook sees each point of the run in order, after the run's own
stopping decision, and may end the run; lr_find rides the same loop."""

import pytest
import torch

from nnfoundations import build_model, fit
from nnfoundations.history import StopKind
from nnfoundations.training.hooks import Hook

pytestmark = pytest.mark.usefixtures("engine")


class Recorder(Hook):
    """Writes down each call, and stops the run after ``stop_after`` epochs."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after, self.best_seen = [], stop_after, []

    def on_fit_start(self, state):
        self.calls.append("fit_start")

    def on_epoch_start(self, state):
        self.calls.append(f"epoch_start {state.epoch}")

    def on_step_end(self, state, loss):
        self.calls.append(f"step {state.epoch}.{state.step}")
        assert loss.dim() == 0 and not loss.requires_grad

    def on_epoch_end(self, state):
        self.calls.append(f"epoch_end {state.epoch}")
        self.best_seen.append(state.history.best_epoch)
        if state.epoch == self.stop_after:
            state.stop(StopKind.REQUESTED, f"the user's hook stopped at epoch {state.epoch}")

    def on_fit_end(self, state):
        self.calls.append("fit_end")


def data(rows=96):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(rows, 4, generator=g)
    return (X, (X[:, 0] > 0).long()), (X[:32], (X[:32, 0] > 0).long())


def test_a_users_hook_sees_every_point_of_the_run_in_order():
    train, val = data()
    hook = Recorder()
    history = fit(build_model(4, [8], 2), train, val, epochs=2, batch_size=48, seed=0,
                  progress=False, hooks=[hook])
    assert hook.calls == ["fit_start", "epoch_start 1", "step 1.1", "step 1.2", "epoch_end 1",
                          "epoch_start 2", "step 2.1", "step 2.2", "epoch_end 2", "fit_end"]
    # the run's stopping decision came first: the hook saw each epoch's best already set
    assert hook.best_seen[-1] == history.best_epoch and hook.best_seen[0] == 1


def test_a_users_hook_ends_the_run_and_the_history_says_so():
    train, val = data()
    torch.manual_seed(0)
    model = build_model(4, [8], 2)
    history = fit(model, train, val, epochs=10, batch_size=48, seed=0, progress=False,
                  hooks=[Recorder(stop_after=3)])
    assert len(history) == 3 and history.stop_kind is StopKind.REQUESTED
    assert history.stop_reason == "the user's hook stopped at epoch 3"
    assert history.to_dict()["stop_kind"] == "requested"


def test_a_hook_that_stops_mid_epoch_leaves_the_epoch_unrecorded():
    class StopAtStep(Hook):
        def on_step_end(self, state, loss):
            if state.epoch == 2 and state.step == 1:
                state.stop(StopKind.REQUESTED, "mid-epoch")

    train, val = data()
    history = fit(build_model(4, [8], 2), train, val, epochs=5, batch_size=48, seed=0,
                  progress=False, hooks=[StopAtStep()])
    assert len(history) == 1 and history.stop_kind is StopKind.REQUESTED
    assert len(history.telemetry) == 1  # the cut epoch's record is not kept either
