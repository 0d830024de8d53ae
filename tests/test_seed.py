"""The assignment's own test blocks (sections 2.1, 2.2, 2.3 and the 3.1 DataLoader preview),
verbatim.

Each function body is the assignment's ``if __name__ == "__main__":`` block, unchanged but for the
indentation; the imports stand where the assignment's notebook had them.
"""

import torch
import torch.nn as nn

from nnfoundations import build_model, evaluate, train_one_step


def test_seed_2_1_build_model():
    # Test 1: basic architecture, check parameter count
    model1 = build_model(784, [128, 64], 9)
    n_params = sum(p.numel() for p in model1.parameters())
    assert n_params == 109321, f"Expected 109321 parameters, got {n_params}"
    print(f"Test 1 passed: {n_params:,} parameters")
    # Test 2: with dropout — should have 2 Dropout layers
    model2 = build_model(784, [128, 64], 9, dropout_rate=0.2)
    dropout_layers = [m for m in model2.modules() if isinstance(m, nn.Dropout)]
    assert len(dropout_layers) == 2, f"Expected 2 Dropout layers, got {len(dropout_layers)}"
    print(f"Test 2 passed: found {len(dropout_layers)} Dropout layers")
    # Test 3: single hidden layer
    model3 = build_model(10, [5], 2)
    n_params3 = sum(p.numel() for p in model3.parameters())
    # Linear(10, 5): 10*5 + 5 = 55. Linear(5, 2): 5*2 + 2 = 12. Total: 67
    assert n_params3 == 67, f"Expected 67 parameters, got {n_params3}"
    print(f"Test 3 passed: {n_params3} parameters")
    print("\nAll build_model tests passed!")


def test_seed_2_2_train_one_step():
    torch.manual_seed(42)
    model_test = build_model(4, [8], 3)
    X_test_batch = torch.randn(16, 4)
    y_test_batch = torch.randint(0, 3, (16,))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model_test.parameters(), lr=0.01)
    loss1 = train_one_step(model_test, X_test_batch, y_test_batch, loss_fn, optimizer)
    assert isinstance(loss1, float), f"Loss should be a float, got {type(loss1)}"
    assert loss1 > 0, f"Loss should be positive, got {loss1}"
    loss2 = train_one_step(model_test, X_test_batch, y_test_batch, loss_fn, optimizer)
    assert isinstance(loss2, float), f"Loss should be a float, got {type(loss2)}"
    print(f"Loss after step 1: {loss1:.4f}")
    print(f"Loss after step 2: {loss2:.4f}")
    print("train_one_step tests passed!")


def test_seed_2_3_evaluate():
    torch.manual_seed(42)
    model_eval = build_model(4, [8], 3)
    X_eval = torch.randn(100, 4)
    y_eval = torch.randint(0, 3, (100,))
    loss_fn_eval = nn.CrossEntropyLoss()
    loss, acc = evaluate(model_eval, X_eval, y_eval, loss_fn_eval)
    assert 0 <= acc <= 1, f"Accuracy should be between 0 and 1, got {acc}"
    assert loss > 0, f"Loss should be positive, got {loss}"
    print(f"Evaluation loss: {loss:.4f}")
    print(f"Evaluation accuracy: {acc:.3f}")


def test_seed_3_1_dataloader_preview(capsys):
    from torch.utils.data import DataLoader, TensorDataset
    # Preview: how DataLoader works
    X_preview = torch.randn(100, 4)
    y_preview = torch.randint(0, 3, (100,))
    dataset = TensorDataset(X_preview, y_preview)
    train_loader = DataLoader(dataset, batch_size=32, shuffle=True)
    print(f"Dataset size: {len(dataset)} examples")
    print(f"Number of batches per epoch: {len(train_loader)}")
    print()
    # Peek at one batch
    X_batch_preview, y_batch_preview = next(iter(train_loader))
    print(f"Batch X shape: {X_batch_preview.shape}")
    print(f"Batch y shape: {y_batch_preview.shape}")

    out = capsys.readouterr().out
    assert "Number of batches per epoch: 4" in out
    assert "Batch X shape: torch.Size([32, 4])" in out
