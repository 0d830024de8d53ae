"""Training with PyTorch: the model, one step, the loop, early stopping, checkpoints, dead
units and plots (the assignment's sections 2 and 3).

Import the modules themselves (``nnfoundations.training.loop``); this package imports
nothing, so that ``nnfoundations.training.plots`` can be used without torch.
"""
