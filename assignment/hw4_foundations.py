"""HW 4 part 1 — Neural Networks: Foundations (the .py deliverable).

Standalone: it needs only numpy and torch, so a course's grader can run it on its own::

    python hw4_foundations.py

It implements the assignment's three building blocks with exactly its signatures and keeps the
assignment's test blocks verbatim. The same functions, with argument checks on top, are the
``nnfoundations`` package's; ``tests/test_assignment.py`` checks that both agree. The
written answers are in ``hw4_foundations.ipynb``.
"""

import numpy as np
import torch
import torch.nn as nn

# random number generator
rng = np.random.RandomState(42)


def build_model(
    input_size: int,
    hidden_sizes: list[int],
    output_size: int,
    dropout_rate: float = 0.0,
) -> nn.Sequential:
    """Build a feedforward neural network with ReLU activations.

    Constructs an nn.Sequential model with the following pattern for each
    hidden layer: Linear -> ReLU -> (optional Dropout). The final layer
    is a plain Linear layer with no activation.

    Args:
        input_size: number of input features
        hidden_sizes: list of hidden layer sizes, e.g. [128, 64]
        output_size: number of output classes
        dropout_rate: dropout probability (0.0 means no dropout)

    Returns:
        An nn.Sequential model
    """
    layers = []
    prev_size = input_size
    for h in hidden_sizes:
        layers.append(nn.Linear(prev_size, h))
        layers.append(nn.ReLU())
        if dropout_rate > 0:
            layers.append(nn.Dropout(p=dropout_rate))
        prev_size = h
    layers.append(nn.Linear(prev_size, output_size))
    return nn.Sequential(*layers)


if __name__ == "__main__":
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


def train_one_step(
    model: nn.Module,
    X_batch: torch.Tensor,
    y_batch: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> float:
    """Perform one gradient descent step: forward, loss, backward, update.

    Args:
        model: the neural network model
        X_batch: input features for this batch, shape (batch_size, input_size)
        y_batch: target labels for this batch, shape (batch_size,)
        loss_fn: the loss function (e.g., nn.CrossEntropyLoss())
        optimizer: the optimizer (e.g., torch.optim.SGD or Adam)

    Returns:
        The loss value
    """
    model.train()  # an earlier evaluate() must not leave dropout switched off
    device = next(model.parameters()).device
    X_batch, y_batch = X_batch.to(device), y_batch.to(device)
    # zero out the gradients to reset them for this gradient descent step
    optimizer.zero_grad()
    # the forward pass through the model to compute predictions
    y_pred = model(X_batch)
    # compute the loss using loss_fn
    loss = loss_fn(y_pred, y_batch)
    # the backward pass to compute all gradients via backpropagation
    loss.backward()
    # take one step of gradient descent with the optimizer
    optimizer.step()
    # Returns the loss as a Python float using .item()
    return loss.item()


if __name__ == "__main__":
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


def evaluate(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: nn.Module,
) -> tuple:
    """Evaluate model: returns (loss, accuracy) without updating weights.

    Args:
        model: the neural network model
        X: input features, shape (n, input_size)
        y: target labels, shape (n,)
        loss_fn: the loss function

    Returns:
        (loss, accuracy) as a tuple of scalars
    """
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()  # disable dropout
    with torch.no_grad():  # tells PyTorch to not track gradients
        # compute predictions by passing X through the model
        y_pred = model(X.to(device))
        # compute the loss
        loss = loss_fn(y_pred, y.to(device)).item()
        # compute predicted classes using argmax
        predicted_classes = y_pred.argmax(dim=1)
        # compute accuracy as the fraction of correct predictions
        accuracy = (predicted_classes == y.to(device)).sum().item() / len(y)
    model.train(was_training)  # leave the model in the mode it came in
    return loss, accuracy


if __name__ == "__main__":
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


if __name__ == "__main__":
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
