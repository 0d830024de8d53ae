"""How often the diagnosis is right on runs nothing was chosen on, and how far its
confidence and its advice can be trusted.

**The oracle corpus** (``benchmarks/corpus/``, made by ``corpus.py``, labelled by
``oracle.py``) is split by data set into fit, calibrate and test parts
(``fit_diagnosis.py``). Everything below is printed for the **test part**, which chose no
feature, threshold or model size: accuracy (an abstention counts as not right) and
coverage, per-verdict precision and recall, the confusion matrix, a reliability table and
the expected calibration error, the regret of the advice (the hidden test loss at the epoch
the diagnosis says to keep, against the best visible epoch's), and a leave-one-family-out
table (fitted and calibrated without a data set family, judged on that family's test part).

**Findings** are checked on runs with faults injected on purpose on digits (unscaled
inputs, far too high or low learning rates, deep sigmoid and deep unnormalised stacks),
clean runs counting the false alarms; dead ReLU layers and exploding gradients are measured
on the whole training set, not injected.

**Real logs** are checks from outside: ``shared/data/real-logs`` (the old rules were
written with these in view; ``real_log_labels.tsv`` holds a careful reader's labels) and
``shared/data/real-logs-2`` (held out: only the count of each verdict is printed).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fit_diagnosis
import torch
import torch.nn as nn
from fit_diagnosis import Run

from nnfoundations import History, build_model, dead_units, diagnose, fit
from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import Split, split_data
from nnfoundations.diagnosis import VERDICTS, Verdict, read_runs
from nnfoundations.diagnosis.model import Model

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
LABELS = HERE / "real_log_labels.tsv"
FINDINGS = ("dying_relu", "vanishing_gradients", "exploding_gradients", "lr_too_high",
            "lr_too_low", "unscaled_inputs")
ABSTAIN = Verdict.INSUFFICIENT_EVIDENCE.value
#: The first run of the corpus's second half, generated after the first half's test part
#: had been looked at while the method was built.
FRESH = 2400
#: The reliability table's bins of confidence.
BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)


@dataclass
class Config:
    """One engineered run; ``faults`` are the findings it was built to show."""

    name: str
    epochs: int
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = 0.0
    n_train: int | None = None
    optimizer: Any = "adam"
    lr: float = 1e-3
    batch_size: int = 64
    scale: float | None = None  # inputs left unstandardised, times this
    model: Callable[[], nn.Module] | None = None
    faults: tuple[str, ...] = ()


def momentum_sgd(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.8, momentum=0.9)


def deep(activation: type[nn.Module], depth: int = 12) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        layers: list[nn.Module] = [nn.Linear(64, 32), activation()]
        for _ in range(depth - 1):
            layers += [nn.Linear(32, 32), activation()]
        return nn.Sequential(*layers, nn.Linear(32, 10))
    return make


CONFIGS = [
    Config("good: 128-64, dropout 0.2", 40, dropout=0.2),
    Config("good: 256-128, dropout 0.3", 40, [256, 128], dropout=0.3),
    Config("good: 64, lr 3e-3", 30, [64], lr=3e-3),
    Config("good: 32-32, adamw", 50, [32, 32], optimizer="adamw", lr=3e-3),
    Config("overfit: 60 examples", 80, [256, 256], n_train=60, lr=3e-3, batch_size=16),
    Config("overfit: 120 examples", 80, [256, 256], n_train=120, lr=3e-3, batch_size=16),
    Config("overfit: 200 examples, long", 150, [512], n_train=200, lr=1e-3, batch_size=16),
    Config("underfit: 1 unit", 40, [1], lr=1e-2),
    Config("underfit: 2 units", 40, [2], lr=1e-2),
    Config("underfit: 1-unit bottleneck, deep", 40, [64, 1, 64], lr=1e-2),
    Config("not converged: sgd", 30, optimizer="sgd", lr=1e-2, faults=("lr_too_low",)),
    Config("not converged: sgd, far too low", 30, optimizer="sgd", lr=1e-3,
           faults=("lr_too_low",)),
    Config("not converged: adam 1e-5", 20, lr=1e-5, faults=("lr_too_low",)),
    Config("not converged: cut short", 4, lr=1e-4),
    Config("diverged: adam 1e6", 5, [64], lr=1e6, faults=("lr_too_high",)),
    Config("diverged: sgd 10", 5, optimizer="sgd", lr=10.0, faults=("lr_too_high",)),
    Config("diverged: sgd 1e6 on raw [0, 1]", 20, [64], optimizer="sgd", lr=1e6,
           scale=1 / 16, faults=("lr_too_high",)),
    Config("unstable: momentum sgd 0.8", 30, optimizer=momentum_sgd, faults=("lr_too_high",)),
    Config("unstable: sgd 1.0, batch 16", 20, optimizer="sgd", lr=1.0, batch_size=16,
           faults=("lr_too_high",)),
    Config("unstable: adam 0.03, batch 8", 20, lr=0.03, batch_size=8, faults=("lr_too_high",)),
    Config("fault: raw pixels x255", 20, scale=255 / 16, faults=("unscaled_inputs",)),
    Config("fault: adam 0.1", 20, [256, 128], lr=0.1, faults=("lr_too_high", "dying_relu")),
    Config("fault: deep sigmoid", 20, model=deep(nn.Sigmoid), faults=("vanishing_gradients",)),
    Config("fault: deep relu, sgd 0.5", 10, model=deep(nn.ReLU, 8), optimizer="sgd", lr=0.5,
           faults=("exploding_gradients", "lr_too_high")),
]
SEEDS = (0,)


def engineered(seeds: tuple[int, ...] = SEEDS) -> list[tuple[str, set[str], set[str]]]:
    """(name, injected faults, our findings) for each engineered run."""
    split = split_data(*load_digits(), seed=0)
    raw = _unstandardised(split)
    rows = []
    for config in CONFIGS:
        for seed in seeds:
            data = raw if config.scale is not None else split
            history, faults = _run(config, data, seed)
            found = diagnose(history)
            rows.append((f"{config.name} (seed {seed})", faults,
                         {f.name for f in found.findings}))
    return rows


def _unstandardised(split: Split) -> Split:
    """The same split with the pixels as they were (0 to 16)."""
    mean = torch.from_numpy(split.standardizer.mean).float()
    std = torch.from_numpy(split.standardizer.std).float()
    return dataclasses.replace(split, X_train=split.X_train * std + mean,
                               X_val=split.X_val * std + mean, X_test=split.X_test * std + mean)


def _run(config: Config, split: Any, seed: int) -> tuple[History, set[str]]:
    """Train the run's epochs; what the whole training set shows at the end (layers half
    dead, gradients grown a hundredfold since the start) joins the injected faults."""
    torch.manual_seed(seed)
    model = config.model() if config.model else build_model(64, config.hidden, 10,
                                                            config.dropout)
    scale = config.scale or 1.0
    n = config.n_train or len(split.y_train)
    train = (split.X_train[:n] * scale, split.y_train[:n])
    start = _full_gradient(model, train)
    history = fit(model, train, (split.X_val * scale, split.y_val), epochs=config.epochs,
                  batch_size=config.batch_size, lr=config.lr, optimizer=config.optimizer,
                  seed=seed, restore_best=False, progress=False)
    measured = _measured(model, train, start)
    return history, measured | set(config.faults) - {"dying_relu", "exploding_gradients"}


def _full_gradient(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor]) -> float:
    model.zero_grad()
    nn.CrossEntropyLoss()(model(train[0]), train[1]).backward()
    norm = math.sqrt(sum(float(p.grad.double().square().sum()) for p in model.parameters()
                         if p.grad is not None))
    model.zero_grad()
    return norm


def _measured(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
              start: float) -> set[str]:
    found = set()
    if any(d.fraction >= 0.5 for d in dead_units(model, train[0])):
        found.add("dying_relu")
    now = _full_gradient(model, train)
    if not math.isfinite(now) or now > 100 * start:
        found.add("exploding_gradients")
    return found


# -- the corpus's test part --------------------------------------------------------------

@dataclass
class Judged:
    """One run, what the oracle says, and what the diagnosis said."""

    run: Run
    said: str
    confidence: float
    stop: int | None  # the position of the epoch to keep


def judge(runs: Sequence[Run], model: Model | None = None) -> list[Judged]:
    """The diagnosis of each run (with ``model``, or the shipped one)."""
    from nnfoundations.diagnosis import verdict

    if model is not None:  # the name the diagnosis calls, not only the model module's
        original = verdict.shipped
        verdict.shipped = lambda: model  # type: ignore[assignment]
    try:
        out = []
        for r in runs:
            d = diagnose(r.curves)
            stop = None if d.stop_epoch is None else r.curves.epochs.index(d.stop_epoch)
            out.append(Judged(r, d.verdict.value, d.confidence, stop))
        return out
    finally:
        if model is not None:
            verdict.shipped = original  # type: ignore[assignment]


def report(judged: list[Judged]) -> None:
    """Accuracy, coverage, confusion, calibration and regret of ``judged``."""
    n = len(judged)
    answered = [j for j in judged if j.said != ABSTAIN]
    right = [j for j in answered if j.said == j.run.label.verdict]
    print(f"  {len(right)}/{n} right ({len(right) / n:.1%}, an abstention counting as not "
          f"right); answered {len(answered)} ({len(answered) / n:.1%} coverage), right on "
          f"{len(right) / max(len(answered), 1):.1%} of those")
    confusion([(j.run.label.verdict, j.said) for j in judged])
    reliability(answered)
    regret(judged)
    wrong_good = sum(j.said == "good_fit" and j.run.label.verdict in ("diverged", "underfitting")
                     for j in judged)
    print(f"  'good fit' said of a diverged or underfitting run: {wrong_good} time(s)")


def confusion(pairs: list[tuple[str, str]]) -> None:
    """Print a confusion matrix (rows: the oracle, columns: the diagnosis) and per-verdict
    precision and recall."""
    counts = Counter(pairs)
    said = [*VERDICTS[:-1], ABSTAIN]
    short = {v: v.replace("_", " ")[:9] for v in said}
    short[ABSTAIN] = "can't tell"
    print(f"  {'oracle / said':<16}" + "".join(f"{short[v]:>11}" for v in said))
    for a in VERDICTS[:-1]:
        print(f"  {short[a]:<16}" + "".join(f"{counts[(a, b)] or '.':>11}" for b in said))
    for v in VERDICTS[:-1]:
        told = sum(k for (_, b), k in counts.items() if b == v)
        true = sum(k for (a, _), k in counts.items() if a == v)
        print(f"    {v:<14} precision {_share(counts[(v, v)], told):>5}   recall "
              f"{_share(counts[(v, v)], true):>5}   ({true} runs)")


def reliability(answered: list[Judged]) -> float:
    """Print the reliability table of the answered runs; return the expected calibration
    error (the runs' share-weighted gap between confidence and accuracy per bin)."""
    print(f"  {'confidence':<12}{'runs':>6}{'mean conf':>11}{'right':>8}")
    ece = 0.0
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        these = [j for j in answered if lo <= j.confidence < hi]
        if not these:
            continue
        conf = sum(j.confidence for j in these) / len(these)
        acc = sum(j.said == j.run.label.verdict for j in these) / len(these)
        ece += len(these) / len(answered) * abs(conf - acc)
        print(f"  {f'[{lo:.2f}, {min(hi, 1):.2f})':<12}{len(these):>6}{conf:>11.3f}{acc:>8.3f}")
    print(f"  expected calibration error {ece:.3f}")
    return ece


def regret(judged: list[Judged]) -> None:
    """How much worse the epoch the diagnosis says to keep is on the hidden test set than
    the best visible epoch (in shares of the constant predictor's loss), and how often
    "train longer" was right."""
    gaps = []
    for j in judged:
        if j.stop is None or j.said == ABSTAIN:
            continue
        label = j.run.label
        test = [t if t is not None and math.isfinite(t) else math.inf for t in label.test]
        best = min(test[:label.n_visible])
        if math.isfinite(best) and math.isfinite(test[j.stop]):
            gaps.append((test[j.stop] - best) / label.constant)
    gaps.sort()
    if gaps:
        capped = [min(g, 1.0) for g in gaps]  # one blown-up run would swamp the mean
        print(f"  advice: the epoch to keep is {sum(capped) / len(capped):.3f} B worse on the "
              f"hidden test set than the best visible epoch on average, each capped at 1 B "
              f"(median "
              f"{gaps[len(gaps) // 2]:.3f} B, 90th percentile {gaps[int(0.9 * len(gaps))]:.3f} "
              f"B; B = the constant predictor's loss; {len(gaps)} runs)")
    longer = [j for j in judged if j.said == "not_converged"]
    if longer:
        helped = sum(j.run.label.more_helps for j in longer)
        print(f"  'train longer' was right {helped}/{len(longer)} times "
              f"({helped / len(longer):.0%}: training on to 4x lowered the held-out loss)")


def leave_one_family_out(runs: list[Run]) -> None:
    """Fit and calibrate without each family; judge on that family's test part."""
    print(f"  {'family left out':<16}{'test runs':>10}{'right':>8}{'coverage':>10}"
          f"{'right when answered':>21}")
    for family in sorted({r.family for r in runs}):
        others = [r for r in runs if r.family != family]
        model = Model.from_dict(fit_diagnosis.build(others))
        judged = judge([r for r in runs if r.family == family and r.part == "test"], model)
        answered = [j for j in judged if j.said != ABSTAIN]
        right = sum(j.said == j.run.label.verdict for j in answered)
        print(f"  {family:<16}{len(judged):>10}{right / len(judged):>8.1%}"
              f"{len(answered) / len(judged):>10.1%}{right / max(len(answered), 1):>21.1%}")


def real() -> list[tuple[str, str, str]]:
    """(run id, our label, the diagnosis) for each labelled real log."""
    folder = SHARED / "real-logs"
    if not folder.is_dir() or not LABELS.is_file():
        return []
    rows = []
    with LABELS.open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["verdict"] not in VERDICTS:
                continue
            raw = next((folder / "raw").glob(f"{row['id']}-*"))
            runs = read_runs(raw)
            rows.append((row["id"], row["verdict"], diagnose(runs[int(row["run"]) - 1]).verdict))
    return rows


def held_out_counts() -> Counter[str]:
    """How many runs of ``real-logs-2`` get each verdict (no curve is looked at)."""
    counts: Counter[str] = Counter()
    for raw in sorted((SHARED / "real-logs-2" / "raw").glob("*")):
        try:
            counts.update(d.verdict.value for d in
                          __import__("nnfoundations").diagnose_file(raw))
        except ValueError:
            counts["(not read)"] += 1
    return counts


def _share(k: int, n: int) -> str:
    return f"{k / n:.2f}" if n else "-"


def findings_table(rows: list[tuple[str, set[str], set[str]]]) -> None:
    print("Findings on engineered runs on digits (faults injected on purpose; clean runs "
          "count the false alarms)")
    for name, want, got in rows:
        if got - want:
            print(f"  false alarm on {name}: {', '.join(sorted(got - want))}")
    for name in FINDINGS:
        tp = sum(1 for _, want, got in rows if name in want and name in got)
        fp = sum(1 for _, want, got in rows if name not in want and name in got)
        fn = sum(1 for _, want, got in rows if name in want and name not in got)
        print(f"  {name:<20} precision {_share(tp, tp + fp):>5}   recall {_share(tp, tp + fn):>5}"
              f"   ({tp + fn} runs with the fault, {fp} false alarms)")


def main() -> None:
    print(f"== the diagnosis, measured (torch threads {torch.get_num_threads()})")
    runs = fit_diagnosis.load()
    test = [r for r in runs if r.part == "test"]
    print(f"The oracle corpus's test part: {len(test)} runs of {len(runs)} "
          f"({len({r.group for r in test})} data sets none of which was fitted or calibrated on)")
    judged = judge(test)
    report(judged)
    fresh = [j for j in judged if j.run.id >= FRESH]
    answered = [j for j in fresh if j.said != ABSTAIN]
    right = sum(j.said == j.run.label.verdict for j in answered)
    print(f"  of which the {len(fresh)} runs of ids {FRESH:,} on (the data sets added on "
          f"2026-12-03): {right / len(fresh):.1%} right, "
          f"{len(answered) / len(fresh):.1%} coverage, {right / max(len(answered), 1):.1%} "
          f"right when answered")
    if "--quick" not in sys.argv:
        print("Leave one family out (fitted and calibrated without it, judged on its test part)")
        leave_one_family_out(runs)
    findings_table(engineered())
    labelled = real()
    if labelled:
        pairs = [(label, str(ours)) for _, label, ours in labelled]
        right = sum(a == b for a, b in pairs)
        print(f"Real logs of shared/data/real-logs labelled by a careful reader: {right}/"
              f"{len(pairs)} agree")
        confusion(pairs)
    counts = held_out_counts()
    if counts:
        print("Real logs of shared/data/real-logs-2 (held out; counts only): " +
              ", ".join(f"{v} {k}" for v, k in sorted(((v, k) for k, v in counts.items()),
                                                        reverse=True)))


if __name__ == "__main__":
    main()
