"""``python -m nnfoundations`` and the ``nnf`` script run the command line."""

import sys


def run() -> int:
    """The ``nnf`` entry point: a Ctrl-C while the CLI is still importing is one line too."""
    try:
        from nnfoundations.app.cli import main
    except KeyboardInterrupt:
        print("nnf: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
