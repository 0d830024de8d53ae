"""train_one_step and evaluate beyond the assignment's tests."""

import pytest
import torch
import torch.nn as nn

from nnfoundations import build_model, evaluate, train_one_step


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 5, generator=g), torch.randint(0, 3, (32,), generator=g)


def test_loss_falls_over_repeated_steps(batch):
    torch.manual_seed(0)
    model = build_model(5, [32], 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = [train_one_step(model, *batch, nn.CrossEntropyLoss(), opt) for _ in range(100)]
    assert all(isinstance(v, float) for v in losses)
    assert losses[-1] < 0.5 * losses[0]


def test_accuracy_matches_a_hand_computation():
    model = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3, 2))  # logits = (x0, x1, 0)
    X = torch.tensor([[2.0, 1.0], [0.0, 3.0], [-1.0, -2.0], [1.0, 5.0]])
    y = torch.tensor([0, 1, 1, 0])  # argmax: 0, 1, 2, 1 -> two of four right
    loss, acc = evaluate(model, X, y, nn.CrossEntropyLoss())
    assert acc == 0.5
    assert loss == pytest.approx(nn.functional.cross_entropy(model(X), y).item())


@pytest.mark.parametrize("was_training", [True, False])
def test_evaluate_restores_mode(batch, was_training):
    model = build_model(5, [8], 3, dropout_rate=0.5)
    model.train(was_training)
    evaluate(model, *batch, nn.CrossEntropyLoss())
    assert model.training is was_training
    assert all(m.training is was_training for m in model.modules())


def test_dropout_active_in_a_step_after_evaluate(batch):
    torch.manual_seed(0)
    model = build_model(5, [64], 3, dropout_rate=0.5)
    model.eval()
    seen = []
    model[2].register_forward_hook(lambda mod, inp, out: seen.append((mod.training, out)))
    train_one_step(model, *batch, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters()))
    training, out = seen[-1]
    assert training and (out == 0).float().mean() > 0.3  # about half the units dropped


def test_evaluate_does_not_change_weights(batch):
    model = build_model(5, [8], 3)
    before = [p.clone() for p in model.parameters()]
    evaluate(model, *batch, nn.CrossEntropyLoss())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("batch_size", [1, 7, 32, 100])
def test_chunked_evaluation_equals_one_pass(batch, batch_size):
    torch.manual_seed(0)
    model = build_model(5, [8], 3)
    whole = evaluate(model, *batch, nn.CrossEntropyLoss())
    chunked = evaluate(model, *batch, nn.CrossEntropyLoss(), batch_size=batch_size)
    assert chunked[0] == pytest.approx(whole[0], rel=1e-6)
    assert chunked[1] == whole[1]


def test_returns_python_floats(batch):
    loss, acc = evaluate(build_model(5, [8], 3), *batch, nn.CrossEntropyLoss())
    assert type(loss) is float and type(acc) is float


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (torch.randn(4, 5), torch.tensor([0, 1, 2]), ValueError,
         r"X and y differ in length: 4 examples but 3 labels"),
        (torch.randn(3, 5), torch.tensor([0.0, 1.0, 2.0]), TypeError,
         r"y must hold integer class labels, got dtype torch.float32"),
        (torch.randn(3, 5), torch.tensor([0, 1, 3]), ValueError,
         r"label 3 is outside \[0, 3\)"),
        (torch.randn(3, 5), torch.tensor([0, -1, 2]), ValueError,
         r"label -1 is outside \[0, 3\)"),
        (torch.randn(0, 5), torch.tensor([], dtype=torch.long), ValueError, r"X is empty"),
        ([[0.0] * 5], torch.tensor([0]), TypeError, r"X and y must be torch.Tensors"),
    ],
)
def test_evaluate_rejects_bad_input(X, y, error, match):
    with pytest.raises(error, match=match):
        evaluate(build_model(5, [8], 3), X, y, nn.CrossEntropyLoss())


def test_bad_batch_size_is_named(batch):
    with pytest.raises(ValueError, match=r"batch_size must be a positive int, got 0"):
        evaluate(build_model(5, [8], 3), *batch, nn.CrossEntropyLoss(), batch_size=0)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_cuda_step_and_evaluate(batch):
    model = build_model(5, [8], 3).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = train_one_step(model, *batch, nn.CrossEntropyLoss(), opt)  # CPU batch moved over
    assert isinstance(loss, float)
    assert isinstance(evaluate(model, *batch, nn.CrossEntropyLoss(), batch_size=8)[1], float)
