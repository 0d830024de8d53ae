"""The matrix path: its gradients against torch.autograd, its runs against the autograd
path's, the models it takes, and the buffers it keeps."""

import copy

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

from nnfoundations import build_model, fit
from nnfoundations.training.backprop import MatrixBackprop, unsupported
from nnfoundations.training.optimizers import make_optimizer


def autograd_gradients(model, X, y):
    loss = nn.CrossEntropyLoss()(model(X), y)
    return loss.item(), torch.autograd.grad(loss, list(model.parameters()))


def matrix_gradients(model, X, y, rows):
    engine = MatrixBackprop(model, torch.optim.SGD(model.parameters(), lr=0.1), rows)
    loss = engine._gradients(X, y, None).item()
    return loss, [p.grad for p in model.parameters()]


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), min_size=2, max_size=5),
       rows=st.integers(1, 17), spare=st.integers(0, 5),
       dropout=st.sampled_from([0.0, 0.25, 0.5]), dtype=st.sampled_from(["64", "32"]),
       seed=st.integers(0, 2**16))
def test_every_gradient_equals_autograd(sizes, rows, spare, dropout, dtype, seed):
    """Any build_model shape, with and without dropout (the same masks: the same RNG
    draws), on a batch smaller than the buffers (a last partial batch) or filling them."""
    torch.manual_seed(seed)
    model = build_model(sizes[0], sizes[1:-1], sizes[-1], dropout_rate=dropout)
    model = model.double() if dtype == "64" else model
    X = torch.randn(rows, sizes[0], dtype=model[0].weight.dtype)
    y = torch.randint(0, sizes[-1], (rows,))
    state = torch.get_rng_state()
    loss_a, grads_a = autograd_gradients(model, X, y)
    torch.set_rng_state(state)
    loss_m, grads_m = matrix_gradients(model, X, y, rows + spare)
    for a, m in zip(grads_a, grads_m, strict=True):
        if dtype == "64":
            assert (a - m).abs().max().item() <= 1e-12
        else:  # normwise, per parameter tensor; a gradient that cancels to almost nothing
            # (a one-unit layer, say) keeps float32's absolute rounding, about its epsilon
            assert (a - m).norm().item() <= 1e-5 * a.norm().item() + 1e-7
    assert loss_m == pytest.approx(loss_a, rel=1e-12 if dtype == "64" else 1e-6)


def test_the_seeds_model_at_full_size_matches_autograd_in_float32():
    torch.manual_seed(0)
    model = build_model(784, [128, 64], 9, dropout_rate=0.2)
    X, y = torch.randn(64, 784), torch.randint(0, 9, (64,))
    state = torch.get_rng_state()
    _, grads_a = autograd_gradients(model, X, y)
    torch.set_rng_state(state)
    _, grads_m = matrix_gradients(model, X, y, 64)
    for a, m in zip(grads_a, grads_m, strict=True):
        assert (a - m).norm().item() <= 1e-5 * a.norm().item()


def run(engine, data, optimizer="adam", dropout=0.3, **kwargs):
    (X, y), val = data
    torch.manual_seed(0)
    model = build_model(64, [32, 16], 10, dropout_rate=dropout)
    history = fit(model, (X, y), val, epochs=4, batch_size=48, optimizer=optimizer, seed=2,
                  progress=False, engine=engine, **kwargs)
    return model, history


@pytest.fixture
def data(digits):  # 500 rows at batch 48: ten full batches and a partial one of 20
    return (digits.X_train[:500], digits.y_train[:500]), (digits.X_val, digits.y_val)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_a_whole_run_gives_the_autograd_paths_history(data, optimizer):
    model_a, a = run("autograd", data, optimizer)
    model_m, m = run("matrix", data, optimizer)
    assert a.settings["engine"] == "autograd" and m.settings["engine"] == "matrix"
    assert m.train_loss == pytest.approx(a.train_loss, rel=1e-5)
    assert m.val_loss == pytest.approx(a.val_loss, rel=1e-5)
    assert m.val_acc == a.val_acc and m.best_epoch == a.best_epoch
    for p, q in zip(model_a.parameters(), model_m.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
    assert [t["dead_relu"] for t in m.telemetry] == [t["dead_relu"] for t in a.telemetry]
    for ta, tm in zip(a.telemetry, m.telemetry, strict=True):
        assert tm["grad_norm"] == pytest.approx(ta["grad_norm"], rel=1e-4)
        assert tm["update_ratio"] == pytest.approx(ta["update_ratio"], rel=1e-4)


def test_a_float64_run_gives_the_autograd_paths_history(digits):
    train = (digits.X_train[:300].double(), digits.y_train[:300])
    histories = []
    for engine in ("autograd", "matrix"):
        torch.manual_seed(0)
        model = build_model(64, [16], 10, dropout_rate=0.1).double()
        histories.append(fit(model, train, epochs=3, seed=1, progress=False, engine=engine))
    assert histories[1].train_loss == pytest.approx(histories[0].train_loss, rel=1e-12)


def test_a_run_resumes_across_engines(data, tmp_path):
    ckpt = tmp_path / "run.pt"
    _, whole = run("matrix", data)
    (X, y), val = data
    torch.manual_seed(0)
    model = build_model(64, [32, 16], 10, dropout_rate=0.3)
    fit(model, (X, y), val, epochs=2, batch_size=48, seed=2, progress=False,
        engine="autograd", checkpoint=ckpt)
    resumed = fit(model, (X, y), val, epochs=4, batch_size=48, seed=2, progress=False,
                  engine="matrix", resume=ckpt)
    assert resumed.val_loss == pytest.approx(whole.val_loss, rel=1e-5)
    assert resumed.settings["engine"] == "matrix"


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, X):
        return self.linear(X)


def hooked_model():
    model = build_model(64, [8], 10)
    model[1].register_forward_hook(lambda m, i, o: None)
    return model


def hooked_loss():
    loss = nn.CrossEntropyLoss()
    loss.register_forward_hook(lambda m, i, o: None)
    return loss


@pytest.mark.parametrize("make, kwargs, reason", [
    (lambda: Custom(), {}, "not an nn.Sequential"),
    (lambda: nn.Sequential(nn.Linear(64, 8), nn.Tanh(), nn.Linear(8, 10)), {}, "blocks"),
    (lambda: nn.Sequential(nn.Linear(64, 10), nn.ReLU()), {}, "blocks"),
    (lambda: nn.Sequential(nn.Linear(64, 10, bias=False)), {}, "no bias"),
    (hooked_model, {}, "hooks"),
    (lambda: build_model(64, [8], 10), {"loss_fn": hooked_loss()}, "hooks"),
    (lambda: build_model(64, [8], 10), {"loss_fn": nn.CrossEntropyLoss(label_smoothing=0.1)},
     "plain mean CrossEntropyLoss"),
    (lambda: build_model(64, [8], 10),
     {"optimizer": lambda ps: torch.optim.RMSprop(ps, lr=1e-3)}, "not Adam, AdamW or SGD"),
])
def test_auto_falls_back_to_autograd_and_matrix_says_why(data, make, kwargs, reason):
    train, val = data
    history = fit(make(), train, val, epochs=1, progress=False, **kwargs)
    assert history.settings["engine"] == "autograd" and len(history) == 1
    with pytest.raises(ValueError, match=f"engine='matrix' cannot train this run: .*{reason}"):
        fit(make(), train, val, epochs=1, progress=False, engine="matrix", **kwargs)


def test_a_dataset_trains_on_autograd(data):
    history = fit(build_model(64, [8], 10), TensorDataset(*data[0]), epochs=1, progress=False)
    assert history.settings["engine"] == "autograd"
    with pytest.raises(ValueError, match="a Dataset"):
        fit(build_model(64, [8], 10), TensorDataset(*data[0]), epochs=1, progress=False,
            engine="matrix")


def test_auto_takes_the_matrix_path_for_build_model_and_the_engine_name_is_checked(data):
    assert fit(build_model(64, [8], 10), data[0], epochs=1,
               progress=False).settings["engine"] == "matrix"
    with pytest.raises(ValueError, match=r"engine must be one of \['auto', 'autograd', 'matri"):
        fit(build_model(64, [8], 10), data[0], epochs=1, progress=False, engine="numpy")
    model = build_model(64, [8], 10)
    assert unsupported(model, nn.CrossEntropyLoss(), make_optimizer("adam", model, 1e-3)) is None


def test_buffers_and_gradients_are_allocated_once_and_grown_only_for_a_larger_batch():
    torch.manual_seed(0)
    model = build_model(6, [5, 4], 3, dropout_rate=0.2)
    engine = MatrixBackprop(model, torch.optim.Adam(model.parameters()), 8)

    def addresses():
        buffers = [b for layer in engine.layers for b in (layer.out, layer.mask, layer.grad_in)
                   if b is not None]
        return [t.data_ptr() for t in buffers + [p.grad for p in model.parameters()]]

    before = addresses()
    for rows in (8, 3, 8):  # a last partial batch uses the same buffers
        engine.step(torch.randn(rows, 6), torch.randint(0, 3, (rows,)))
        assert addresses() == before
    engine.step(torch.randn(20, 6), torch.randint(0, 3, (20,)))
    assert engine.rows == 20
    twin = copy.deepcopy(model)
    X, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    state = torch.get_rng_state()
    _, expected = autograd_gradients(twin, X, y)
    torch.set_rng_state(state)
    engine._gradients(X, y, None)
    for g, p in zip(expected, model.parameters(), strict=True):
        assert torch.allclose(g, p.grad, atol=1e-6)


def test_labels_outside_the_models_classes_are_refused_before_training(data):
    (X, y), _ = data
    for engine in ("autograd", "matrix"):
        with pytest.raises(ValueError, match=r"label 9 is outside \[0, 9\): the model has 9"):
            fit(build_model(64, [8], 9), (X, y), epochs=1, progress=False, engine=engine)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_matrix_path_on_cuda_equals_autograd_there(data):
    (X, y), _ = data
    histories = []
    for engine in ("autograd", "matrix"):
        torch.manual_seed(0)
        model = build_model(64, [32], 10).cuda()
        histories.append(fit(model, (X, y), epochs=2, seed=0, progress=False, engine=engine))
    assert histories[1].settings["device"].startswith("cuda")
    assert histories[1].train_loss == pytest.approx(histories[0].train_loss, rel=1e-4)
