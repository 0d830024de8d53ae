"""The ``nnf`` command line: a thin map from flags onto library calls.

Results go to stdout, progress and messages to stderr. Exit status: 0 on success, 2 on bad
input (one line on stderr, no traceback, no file left behind), 1 on an internal error.
``--debug`` shows the traceback. Each command imports what it needs when it runs, so that
``nnf --help``, ``nnf explain`` and ``nnf diagnose`` never load torch.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from nnfoundations import __version__
from nnfoundations._errors import InputError, first_line
from nnfoundations.app.config import TrainConfig, flag
from nnfoundations.training.settings import SETTINGS

#: Failures met at the CLI's boundary with the machine, reported like bad input: a path
#: that cannot be written or read, memory that runs out.
BOUNDARY_ERRORS = (OSError, MemoryError)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"nnf: error: {message} (see '{self.prog} --help')\n")


def _command_parser(common: argparse.ArgumentParser) -> type[_Parser]:
    """The parser class of each command: ours, with the options every command takes."""

    class Command(_Parser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["parents"] = [common, *kwargs.get("parents", [])]
            super().__init__(*args, **kwargs)

    return Command


def _patience(text: str) -> int | None:
    """``--patience``: epochs, or ``none`` for no early stopping."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of epochs or 'none', got {text!r}") from None


def _cmd_train(args: argparse.Namespace) -> int:
    config = TrainConfig(**{k: getattr(args, k) for k in TrainConfig.__dataclass_fields__})
    if args.nproc != 1:  # the launcher loads no torch: each process does
        from nnfoundations.app.launch import launch
        config.check()  # a bad flag is one line here, not one per process
        return launch(args.argv, args.nproc)
    from nnfoundations.app.runs import train_run
    result = train_run(config, None if args.quiet else
                       lambda line: print(f"nnf: {line}", file=sys.stderr))
    if result.path is None:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    m = result.metrics
    print(f"epochs run: {m['epochs_run']} ({m['stop_reason']})")
    if m["test_accuracy"] is not None:
        print(f"test loss: {m['test_loss']:.4f}   test accuracy: {m['test_accuracy']:.4f}")
    print(result.diagnosis)
    print(f"run written to {result.path}/: model.pt history.json curves.png metrics.json "
          "settings.json split.json report.html")
    return 0


def _cmd_lr_find(args: argparse.Namespace) -> int:
    from nnfoundations.app.runs import lr_find_run

    config = TrainConfig(**{k: getattr(args, k) for k in TrainConfig.__dataclass_fields__
                            if hasattr(args, k)})
    found = lr_find_run(config, args.output, start_lr=args.start_lr, end_lr=args.end_lr,
                        steps=args.steps)
    print(found)
    print(f"plot written to {args.output}", file=sys.stderr)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from nnfoundations.app.runs import evaluate_run

    metrics = evaluate_run(args.run_dir, args.data, args.label, args.labels, args.drop)
    print(f"loss {metrics['loss']:.4f}   accuracy {metrics['accuracy']:.4f}   "
          f"({metrics['n']} examples)")
    print(f"{'class':>12}{'count':>8}{'accuracy':>10}")
    for row in metrics["per_class"]:
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        print(f"{row['class']!s:>12}{row['count']:>8}{acc:>10}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from nnfoundations._files import atomic_write_text, writable_file
    from nnfoundations.app.runs import predict_run

    if args.out:
        writable_file(args.out)
    predictions, proba, classes = predict_run(args.run_dir, args.data, args.label, args.drop)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["prediction"] + ([f"p_{c}" for c in classes] if args.proba else []))
    for label, row in zip(predictions, proba, strict=True):
        writer.writerow([label] + ([f"{p:.6g}" for p in row] if args.proba else []))
    if args.out:
        atomic_write_text(args.out, buffer.getvalue())
        print(f"{len(predictions)} predictions written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from nnfoundations.diagnosis import Columns, diagnose_file

    columns = Columns(args.epoch_col, args.train_col, args.val_col, args.acc_col)
    found = diagnose_file(args.log, run=args.run_number, classes=args.classes,
                          columns=columns)
    if args.json:
        dumped = [d.to_dict() for d in found]
        print(json.dumps(dumped[0] if len(dumped) == 1 else dumped, indent=1))
        return 0
    for k, d in enumerate(found):
        used = ", ".join(f"{key} = {value}" for key, value in d.columns.items())
        print(("\n" if k else "") + (f"{d.run}: " if d.run else "") + f"columns: {used}")
        print(d)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from nnfoundations.diagnosis import Columns
    from nnfoundations.diagnosis.readers import read_run
    from nnfoundations.training.plots import plot_history

    columns = Columns(args.epoch_col, args.train_col, args.val_col, args.acc_col)
    curves = read_run(args.log, run=args.run_number, columns=columns)
    path = plot_history(curves, args.output)
    print(f"curves written to {path}", file=sys.stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from nnfoundations.app.report import report
    from nnfoundations.diagnosis import Columns

    columns = Columns(args.epoch_col, args.train_col, args.val_col, args.acc_col)
    report(args.log, args.output, run=args.run_number, columns=columns)
    print(f"report written to {args.output}", file=sys.stderr)
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from nnfoundations.autodiff.queries import explain_picture, explain_query

    if args.graph is not None:
        from nnfoundations.training.plots import check_image_path
        check_image_path(args.graph)  # before any work, as every command that writes
    print(explain_query(args.what, wrt=args.wrt, at=args.at, sizes=args.sizes))
    if args.graph is not None:
        from nnfoundations.app.graph_figure import plot_graph
        plot_graph(explain_picture(args.what, wrt=args.wrt, at=args.at), args.graph)
        print(f"graph written to {args.graph}", file=sys.stderr)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from nnfoundations.app.runs import compare_run

    config = TrainConfig(**{k: getattr(args, k) for k in TrainConfig.__dataclass_fields__
                            if hasattr(args, k) and k != "batch_size"})
    print(compare_run(config, args.batch_size, args.output))
    print(f"figure written to {args.output}", file=sys.stderr)
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from nnfoundations.grading.command import grade_command

    print(grade_command(args.submissions, template=args.template, solution=args.solution,
                        rubric=args.rubric, execute=args.execute, jobs=args.jobs,
                        timeout=args.timeout, as_json=args.json, csv_path=args.csv,
                        gradescope_path=args.gradescope, carried_credit=args.carried_credit))
    return 0


def _add_grade(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "grade", help="grade the assignment's submissions (instructors)",
        description="Score .py and .ipynb submissions (files, a folder of them, or a folder "
        "per student) against the assignment's rubric, running each contained by bubblewrap "
        "(as an unprivileged user, with a private filesystem and no network).")
    p.add_argument("submissions", nargs="*", help="files or folders to grade")
    p.add_argument("--template", metavar="DIR", help="write the blank student files into DIR")
    p.add_argument("--solution", action="store_true",
                   help="grade this repository's own assignment/ files (a self-check)")
    p.add_argument("--rubric", action="store_true", help="print how the points split")
    p.add_argument("--execute", action="store_true",
                   help="run each notebook (in the sandbox) before reading its outputs")
    p.add_argument("--jobs", type=int, default=0, help="submissions at once (default: CPUs)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds per submission's process (default 120, at most 86400)")
    p.add_argument("--json", action="store_true", help="one JSON object per submission")
    p.add_argument("--csv", metavar="FILE", help="write every score to a CSV")
    p.add_argument("--gradescope", metavar="FILE",
                   help="write one submission's Gradescope results.json")
    p.add_argument("--carried-credit", type=float, default=0.0, metavar="SHARE",
                   help="the share of its points (0 to 1, default 0) that an answer of 1.2 "
                   "earns when it is wrong only because it carries the student's own earlier "
                   "values forward")
    p.set_defaults(run=_cmd_grade)


def _add_data_and_model(p: argparse.ArgumentParser, d: TrainConfig,
                        batch_sizes: bool = False) -> None:
    p.add_argument("--data", default=d.data,
                   help="'digits' (default, bundled), a .csv, a .npz (X, y) or an IDX file")
    p.add_argument("--label", help="CSV label column (default 'label', else the last)")
    p.add_argument("--labels", help="IDX labels file (default: the standard name beside)")
    _add_drop(p)
    _setting(p, "hidden", nargs="*", metavar="N")
    _setting(p, "dropout")
    if batch_sizes:
        p.add_argument("--batch-size", type=int, nargs="+", default=[16, 64, 512],
                       help="the batch sizes to compare (default 16 64 512)")
    else:
        _setting(p, "batch_size")
    _setting(p, "optimizer")
    _setting(p, "seed")
    p.add_argument("--device", default=d.device, help="auto (default), cpu or cuda")
    _setting(p, "val_fraction")
    p.add_argument("--test-fraction", type=float, default=d.test_fraction,
                   help=f"the share of the data held out to test (default {d.test_fraction})")


#: How each setting's flag reads its text; its check comes once, in ``TrainConfig.check``.
_PARSE: dict[str, Callable[[str], Any]] = {
    "hidden": int, "dropout": float, "epochs": int, "batch_size": int, "lr": float,
    "optimizer": str, "patience": lambda text: _patience(text), "seed": int, "engine": str,
    "val_fraction": float}


def _setting(p: argparse.ArgumentParser, name: str, **options: Any) -> None:
    """The flag of a declared setting: its help, and the main job's default, from the
    declaration (``options`` may set another default)."""
    declared = SETTINGS[name]
    default = options.pop("default", declared.main_job)
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else \
        "none" if default is None else default
    p.add_argument(flag(name), type=_PARSE[name], help=f"{declared.help} (default {shown})",
                   default=list(default) if isinstance(default, tuple) else default,
                   **options)


def _add_train(commands: argparse._SubParsersAction) -> None:
    d = TrainConfig()
    p = commands.add_parser("train", help="train an MLP (default: on the digits dataset)",
                            description="Train build_model with fit() and write a run "
                            "directory: model, history, curves, metrics, settings.")
    _add_data_and_model(p, d)
    for name in ("epochs", "lr", "patience", "engine"):
        _setting(p, name)
    p.add_argument("--nproc", type=int, default=1,
                   help="train data-parallel in N processes on this machine (torchrun)")
    p.add_argument("--out", help="run directory (default runs/<timestamp>)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    p.set_defaults(run=_cmd_train)
    p = commands.add_parser(
        "lr-find", help="sweep the learning rate and suggest one",
        description="The learning-rate range test on the model and data 'nnf train' would "
        "use: the learning rate grows exponentially step by step until the loss diverges; "
        "the model is left untouched.")
    _add_data_and_model(p, d)
    p.add_argument("--start-lr", type=float, default=1e-7, help="default 1e-7")
    p.add_argument("--end-lr", type=float, default=10.0, help="default 10")
    p.add_argument("--steps", type=int, default=100, help="default 100")
    p.add_argument("-o", "--output", default="lr_find.png", help="the plot (default "
                   "lr_find.png)")
    p.set_defaults(run=_cmd_lr_find)
    p = commands.add_parser(
        "compare", help="the batch-size experiment: one model at several batch sizes",
        description="Train the model 'nnf train' would use, from the same initial weights "
        "and seed, at each batch size; print updates per epoch, seconds per epoch, the best "
        "validation loss and accuracy, when they were reached (epoch and updates) and the "
        "verdict; plot the validation loss against epochs and against updates.")
    _add_data_and_model(p, d, batch_sizes=True)
    _setting(p, "epochs", default=30)
    _setting(p, "lr")
    p.add_argument("-o", "--output", default="compare.png",
                   help="the figure (default compare.png)")
    p.set_defaults(run=_cmd_compare)


def _add_explain(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "explain", help="write out the chain rule for a gradient",
        description="Explain a gradient step by step: 'warmup' (seed 1.1), 'network' (1.2), "
        "'layers' (1.2 as whole layers: the matrix chain rule that fit() runs), 'cost' (1.3), "
        "or any expression such as \"(relu(2*w + 1) - 3)**2\".")
    p.add_argument("what", help="warmup | network | layers | cost | EXPRESSION")
    p.add_argument("--wrt", help="the node or variable to differentiate against (default: w "
                   "for warmup, w21 for network)")
    p.add_argument("--at", action="append", default=[], metavar="NAME=NUMBER",
                   help="an input's value (repeatable): w for warmup; x1 x2 w11 w12 w21 w22 "
                   "v1 v2 y for network and layers; each variable of an expression")
    p.add_argument("--sizes", type=int, nargs="+", action="append",
                   help="layer sizes for 'cost' (repeatable)")
    p.add_argument("--graph", metavar="FILE", help="also draw the computation into FILE "
                   "(.png, .svg, ...): values, gradients, each link's local derivative, the "
                   "path highlighted, what an inactive ReLU blocks greyed")
    p.set_defaults(run=_cmd_explain)


def _add_check(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "check", help="check your own derivation, step by step",
        description="Check the values you worked out for a derivation, as a tutor would: "
        "which step is the first wrong one, what it should be and why, and which later steps "
        "are wrong only because they carried it forward. For example: nnf check warmup "
        "\"z=3 a=3 dL/da=0 da/dz=1 dz/dw=2 dL/dw=0\".")
    p.add_argument("what", help="warmup (1.1) | network (1.2.1, 1.2.2, 1.2.3) | EXPRESSION")
    p.add_argument("answers", nargs="+", metavar="STEP=NUMBER",
                   help="your values: forward values (z=3), derivatives (dL/da=0, ∂a/∂z=1, "
                   "dLdw=0), in one string or several")
    p.add_argument("--at", action="append", default=[], metavar="NAME=NUMBER",
                   help="an input's value (repeatable), as for nnf explain")
    p.set_defaults(run=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from nnfoundations.autodiff.check import check
    from nnfoundations.autodiff.queries import parse_assignments

    print(check(args.what, args.answers, at=parse_assignments(args.at)))
    return 0


def _add_drop(p: argparse.ArgumentParser) -> None:
    p.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                   help="a CSV column to leave out, such as an id (repeatable)")


def _add_apply(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("evaluate", help="loss, accuracy and per-class accuracy of a run")
    p.add_argument("run_dir")
    p.add_argument("--data", help="labelled data: digits, .csv, .npz or IDX (default: the "
                   "run's own held-out test rows)")
    p.add_argument("--label", help="CSV label column (default: the run's)")
    p.add_argument("--labels", help="IDX labels file")
    _add_drop(p)
    p.set_defaults(run=_cmd_evaluate)
    p = commands.add_parser("predict", help="predict a label for each row of a data file")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="a .csv, .npz or IDX file (labels ignored)")
    p.add_argument("--label", help="a CSV label column to leave out (default: the run's)")
    _add_drop(p)
    p.add_argument("--out", help="write the CSV here instead of stdout")
    p.add_argument("--proba", action="store_true", help="add each class's probability")
    p.set_defaults(run=_cmd_predict)


def _add_curves(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "diagnose", help="diagnose a run's curves, from nnf or any framework's log",
        description="Diagnose the train and validation curves of a run: a run directory or "
        "history.json, a Keras CSVLogger file or History JSON, a Lightning metrics.csv, a "
        "Hugging Face trainer_state.json, a TensorBoard event file, or any CSV.")
    p.add_argument("log", help="the log file or run directory")
    p.add_argument("--json", action="store_true",
                   help="print JSON: one object for a log of one run, a list for several")
    p.add_argument("--classes", type=int, help="number of classes: chance level log K")
    _add_columns(p)
    p.set_defaults(run=_cmd_diagnose)
    p = commands.add_parser("plot", help="plot a run's curves, from nnf or any framework's log",
                            description="Plot the curves of a run, with its verdict in the "
                            "title: any log nnf diagnose reads.")
    p.add_argument("log", help="the log file or run directory")
    p.add_argument("-o", "--output", default="curves.png", help="default curves.png")
    _add_columns(p)
    p.set_defaults(run=_cmd_plot)
    p = commands.add_parser("report", help="one HTML page of a run: curves, verdict, evidence, "
                            "findings, and for nnf's runs their metrics and settings",
                            description="Write a self-contained HTML report of a run (no "
                            "network needed to open it): a run directory of nnf train or any "
                            "log nnf diagnose reads.")
    p.add_argument("log", help="the log file or run directory")
    p.add_argument("-o", "--output", default="report.html", help="default report.html")
    _add_columns(p)
    p.set_defaults(run=_cmd_report)


def _add_columns(p: argparse.ArgumentParser) -> None:
    """What picks the run and its series out of a log: ``--run`` and the ``--*-col`` names."""
    p.add_argument("--run", type=int, dest="run_number",
                   help="which run of a file holding several (1-based)")
    for name in ("epoch", "train", "val", "acc"):
        p.add_argument(f"--{name}-col", help=f"the column of the {name} series")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``nnf``."""
    parser = _Parser(prog="nnf", description="nnfoundations: the foundations of neural "
                     "networks, runnable: train, evaluate, predict, diagnose, plot, report, "
                     "explain, "
                     "check, compare, grade.")
    parser.add_argument("--version", action="version", version=f"nnf {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    # --debug after the command too; SUPPRESS keeps a --debug given before it
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_command_parser(debug))
    _add_train(commands)
    _add_apply(commands)
    _add_curves(commands)
    _add_explain(commands)
    _add_check(commands)
    _add_grade(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``nnf`` with ``argv`` (default: the process's arguments) and return its status.

    Warnings raised on the way (a library's deprecation, a cast) are shown after a command
    that succeeds, one line each; an error is one line alone.
    """
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        status = _run(args)
    if status == 0:
        for warning in dict.fromkeys(first_line(Warning(w.message)) for w in caught):
            print(f"nnf: warning: {warning}", file=sys.stderr)
    return status


def _run(args: argparse.Namespace) -> int:
    try:
        status: int = args.run(args)
        return status
    except BrokenPipeError:  # the reader went away (nnf ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (InputError, *BOUNDARY_ERRORS) as err:
        if args.debug:
            raise
        print(f"nnf: error: {first_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnf: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # an internal error: a bug to report
        if args.debug:
            raise
        print(f"nnf: internal error: {type(err).__name__}: {first_line(err)} (rerun with "
              "--debug for the traceback)", file=sys.stderr)
        return 1
