"""``python -m nnfoundations`` runs the ``nnf`` command line."""

import sys

from nnfoundations.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
