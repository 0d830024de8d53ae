# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # HW 4 part 1 — Neural Networks: Foundations
#
# —TODO your name here
#
# **Collaboration Statement**
#
# TODO brief statement on the nature of your collaboration.
#
# TODO your collaborator's names here
#
# *This notebook is built from `hw4_foundations_notebook.py` by `build_notebook.py`; the
# section 2 code cells are taken from `hw4_foundations.py`, so the two cannot drift apart.
# Every number in an answer is printed by a code cell: the chain rule by
# `nnfoundations.Value` and `explain`, the training runs by `nnfoundations.fit` and
# `diagnose`.*
#
# ## Part 1 Table of Contents and Rubric
#
# | Section | Points |
# |---|---|
# | Backpropagation and the chain rule | 1.75 |
# | PyTorch components | 1.75 |
# | Training loop concepts | 1 |
# | Total | 4.5 pts |
#
# ## Notebook and function imports

# %%
# include: imports

# %%
from IPython.display import Image, display

from nnfoundations import (
    build_model as nnf_build_model,
)
from nnfoundations import (
    dead_units,
    diagnose,
    explain,
    fit,
    plot_history,
    updates_per_epoch,
)
from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import split_data
from nnfoundations.autodiff.op_counts import cost_table, count_cost
from nnfoundations.autodiff.seed_examples import network, warmup
from nnfoundations.training.compare import compare_batch_sizes, comparison_table
from nnfoundations.training.plots import plot_comparison

# %% [markdown]
# ## 1. Backpropagation and the chain rule [1.75 pts]
#
# ### 1.1 Chain rule warmup [0.5 pts]
#
# If $L$ depends on $a$, and $a$ depends on $w$, the chain rule says
# $\frac{dL}{dw} = \frac{dL}{da}\cdot\frac{da}{dw}$; with a longer chain, where $a$ depends on
# $z$ and $z$ on $w$: $\frac{dL}{dw} = \frac{dL}{da}\cdot\frac{da}{dz}\cdot\frac{dz}{dw}$.
#
# The chain: $z = 2w + 1$, $a = \text{ReLU}(z)$, $L = (a - 3)^2$. Compute $\frac{dL}{dw}$ at
# $w = 1$.
#
# **Your response:** the engine builds the chain, and `explain` writes out each step — the
# forward values, each local derivative with its formula, and their product:

# %%
g = warmup(w=1.0)
e11 = explain(g.output, g.nodes["w"])
print(e11)
assert e11.gradient == 0.0

# %% [markdown]
# $\frac{dL}{da} = 2(a-3)$ is zero because $a = 3$ already equals the target: $L$ is at its
# minimum with respect to $a$, so the whole product is zero even though
# $\frac{da}{dz}$ and $\frac{dz}{dw}$ are not. A zero gradient means gradient descent leaves $w$
# where it is — it is already optimal.
#
# ### 1.2 Backpropagation on a small network [0.75 pts]
#
# A 2-2-1 network without biases, ReLU hidden units, squared error:
# $z_k = w_{k,1}x_1 + w_{k,2}x_2$, $h_k = \text{ReLU}(z_k)$, $\hat y = v_1h_1 + v_2h_2$,
# $\mathcal{L} = (\hat y - y)^2$, with $x = (1, 2)$, $w_{1,\cdot} = (0.5, -0.3)$,
# $w_{2,\cdot} = (0.2, 0.8)$, $v = (0.6, 0.4)$ and $y = 1$.
#
# **1.2.1** The forward pass, node by node:

# %%
net = network()
for name in ["z1", "z2", "h1", "h2", "ŷ", "L"]:
    print(f"{name:>3} = {net.nodes[name].data:.4g}")

# %% [markdown]
# $h_1 = \text{ReLU}(z_1) = 0$: the ReLU zeroed out this neuron, because $z_1 < 0$.
#
# **1.2.2** $\frac{\partial \mathcal{L}}{\partial w_{2,1}} =
# \frac{\partial \mathcal{L}}{\partial \hat y}\cdot\frac{\partial \hat y}{\partial h_2}\cdot
# \frac{\partial h_2}{\partial z_2}\cdot\frac{\partial z_2}{\partial w_{2,1}}$, each term
# computed and multiplied:

# %%
e122 = explain(net.output, net.nodes["w21"])
print(e122)
net.output.backward()
assert e122.gradient == net.nodes["w21"].grad

# %% [markdown]
# **1.2.3** **Your response:** $\frac{\partial \mathcal{L}}{\partial w_{1,1}} = 0$ without any
# computation. Every path from $\mathcal{L}$ to $w_{1,1}$ passes through $h_1$, and
# $z_1 < 0$ puts the ReLU on its flat side, so $\frac{\partial h_1}{\partial z_1} = 0$ is a
# factor of every product. The unit is inactive for this input, and so its incoming weights
# receive no gradient from it. The explainer says the same:

# %%
e123 = explain(net.output, net.nodes["w11"])
print(e123)
assert e123.gradient == 0.0

# %% [markdown]
# ### 1.3 Why backpropagation is cheap
#
# `loss.backward()` computes all partial derivatives by reusing intermediate values. The
# engine counts it: one forward pass, one backward pass (one multiply-add per edge of the
# graph, giving *every* weight's gradient), one independent chain per weight (no sharing of
# the upstream factors $\frac{\partial\mathcal{L}}{\partial \hat y}$,
# $\frac{\partial\mathcal{L}}{\partial h_k}$, ...), and finite differences (one extra
# forward pass per weight):

# %%
print(cost_table([[2, 2, 1], [4, 8, 1], [16, 16, 1], [64, 32, 4]]))
small, large = count_cost([2, 2, 1]), count_cost([64, 32, 4])
print(f"\nbackward / forward stays near {small.ratios()['backward']:.1f}-"
      f"{large.ratios()['backward']:.1f}; finite differences grow from "
      f"{small.ratios()['finite_differences']:.0f}x to "
      f"{large.ratios()['finite_differences']:.0f}x the forward pass")

# %% [markdown]
# Backpropagation costs a small constant times a forward pass, whatever the number of weights,
# because each upstream factor is computed once and shared by every weight below it. The
# other two ways grow with the number of weights.
#
# ## 2. PyTorch Components [1.75 pts]
#
# ### 2.1 `build_model()` [0.5 pts]
#
# An `nn.Sequential` with Linear → ReLU → (Dropout when `dropout_rate > 0`) for each hidden
# layer and a plain Linear output layer.

# %%
# include: build_model

# %%
# include: main 1

# %% [markdown]
# ### 2.2 `train_one_step()` [0.75 pts]
#
# Zero the gradients, forward, loss, `loss.backward()`, `optimizer.step()`. The model is put
# in training mode first, so a previous `evaluate()` cannot leave dropout switched off.

# %%
# include: train_one_step

# %%
# include: main 2

# %% [markdown]
# ### 2.3 `evaluate()` [0.5 pts]
#
# `model.eval()` switches dropout off and `torch.no_grad()` stops gradient tracking; the
# model's previous mode is restored afterwards.

# %%
# include: evaluate

# %%
# include: main 3

# %% [markdown]
# ## 3. Training Loop Concepts [1 pt]
#
# ### 3.1 Mini-batch gradient descent [0.5 pts]

# %%
# include: main 4

# %% [markdown]
# **3.1.1** With $n = 1024$ and $b = 64$:

# %%
per_epoch = updates_per_epoch(1024, 64)
print(f"updates in one epoch (b = 64):         {per_epoch}")
print(f"updates in 10 epochs (b = 64):         {10 * per_epoch}")
print(f"updates in 10 steps of full batch:     {10 * updates_per_epoch(1024, 1024)}")

# %% [markdown]
# **3.1.1** **Your response:** one epoch is $\lceil n / b \rceil$ updates, so mini-batches
# give $n / b$ times as many updates as full-batch gradient descent for the same passes over
# the data (the printed counts above).
# On a large dataset the mini-batch approach learns more effectively: each of its gradients
# is a noisy but unbiased estimate of the full gradient, and it gets many more of them for
# the same computation, while full batch spends a whole pass over the data on every single
# step.
#
# **3.1.2** **Your response:** a small batch (16) gives many cheap, noisy updates per epoch:
# more progress per epoch and a noise that can help escape sharp minima, but each epoch takes
# longer in wall-clock time because small batches use the hardware poorly. A large batch
# (512) gives few, accurate updates: fast epochs that parallelise well, but much less progress
# per epoch, so it needs more epochs (or a larger learning rate). Per *update*, the large
# batch is better, since its gradient is more accurate. The batch-size experiment
# (`compare_batch_sizes`, or `nnf compare --batch-size 16 64 512` on the command line) trains
# the same model from the same weights at each size on the digits data and measures each of
# these trade-offs:

# %%
digits = split_data(*load_digits(), seed=0)
train, val = (digits.X_train, digits.y_train), (digits.X_val, digits.y_val)


def run(hidden, batch_size, epochs, n_train=None, dropout=0.0, **kwargs):
    torch.manual_seed(0)
    model = nnf_build_model(64, hidden, 10, dropout)
    n = n_train or len(train[0])
    history = fit(model, (train[0][:n], train[1][:n]), val, epochs=epochs,
                  batch_size=batch_size, seed=0, progress=False, **kwargs)
    return model, history


torch.manual_seed(0)
runs = compare_batch_sizes(nnf_build_model(64, [64], 10), train, val, [16, 64, 512],
                           epochs=30, seed=0)
print(comparison_table(runs))
display(Image(filename=str(plot_comparison(runs, "batch_sizes.png"))))

# %% [markdown]
# After the same number of epochs the small batch is far ahead (it made many more updates);
# after the same number of updates the large batch is ahead (each of its updates is better),
# but it needed many more epochs to make them.
#
# ### 3.2 Reading train and validation loss curves [0.5 pts]
#
# The loop of Part 2 is `nnfoundations.fit`: for each epoch, one `train_one_step` per shuffled
# mini-batch, then `evaluate` on the validation set.
#
# **3.2.1** The assignment's two plots are missing, so we make two real runs on the digits data that
# show the two failure modes: **Model A** has a one-unit bottleneck; **Model B** is a large
# network trained on only 100 examples without dropout. Their curves and the diagnosis
# computed from them:

# %%
model_a, history_a = run([1], 64, 80, lr=3e-2)
display(Image(filename=str(plot_history(history_a, "model_a.png"))))
print("Model A:", diagnose(history_a))

# %%
model_b, history_b = run([256, 256], 16, 60, n_train=100, lr=1e-2)
display(Image(filename=str(plot_history(history_b, "model_b.png"))))
print("Model B:", diagnose(history_b))

# %% [markdown]
# **Model A diagnosis:** underfitting. Both losses level off high, a large share of the
# chance-level loss, the training loss as high as the validation loss, and the accuracy stays
# far from what digits allow. The fitted diagnosis says the same from the curves alone, with
# a modest confidence: a plateau at two thirds of chance could also be a hard task. What
# settles it is the model: the one-unit layer cannot represent the ten classes, so even the
# training data is not fitted, and more epochs would gain little.
# More capacity, not more data, is what it needs. A dead-unit count shows how narrow the
# bottleneck is:

# %%
for layer in dead_units(model_a, train[0]):
    print(f"ReLU layer {layer.layer}: {layer.units} unit(s), {layer.dead} never fire")

# %% [markdown]
# **Model B diagnosis:** overfitting. The training loss falls to almost zero while the
# validation loss reaches its minimum early and then rises, far beyond its epoch-to-epoch
# noise and for many epochs: the gap between the curves grows, because the model memorises its
# 100 training examples instead of learning the digits. The epoch to keep is the minimum.
#
# **3.2.2** **Your response:** a model performs well when both curves fall and then level off
# together, with the validation loss close to the training loss and no longer rising. To
# decide when to stop, watch the validation loss: stop around its minimum — in practice when
# it has not improved for a few epochs (the *patience*) — and keep the weights of the best
# epoch. Early stopping on a sensible model does exactly that:

# %%
model_c, history_c = run([128, 64], 64, 200, dropout=0.2, patience=5)
display(Image(filename=str(plot_history(history_c, "model_c.png"))))
print(history_c.stop_reason)
print(diagnose(history_c))

# %% [markdown]
# ## How to submit
#
# Follow the instructions on the course website to submit your work. For part 1, you will
# submit `hw4_foundations.ipynb` and `hw4_foundations.py`.
