"""``python -m nnfoundations`` and the ``nnf`` script run the command line."""

import sys


def run() -> int:
    """The ``nnf`` entry point: a Ctrl-C while the CLI is still importing is one line too;
    a rank of ``nnf train --nproc`` records its status for the launcher."""
    try:
        from nnfoundations.app.cli import main
        from nnfoundations.app.launch import record_status
    except KeyboardInterrupt:
        print("nnf: interrupted", file=sys.stderr)
        return 130
    status = 1
    try:
        status = main()
    except SystemExit as done:  # argparse's refusal: status 2
        status = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        raise
    finally:
        record_status(status)
    return status


if __name__ == "__main__":
    sys.exit(run())
