"""The names a training setting may take, torch-free: the CLI checks them before it loads
anything, and the training modules build from them."""

#: The optimizers ``fit`` builds by name.
OPTIMIZER_NAMES = ("adam", "adamw", "sgd")
#: The engines of the training step: torch's autograd, or our matrix backpropagation.
ENGINES = ("auto", "autograd", "matrix")
