"""A sample submission for `nnf grade`: it copies the library's answers."""

from nnfoundations import build_model, evaluate, train_one_step  # noqa: F401
