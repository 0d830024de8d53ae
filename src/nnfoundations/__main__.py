"""``python -m nnfoundations`` runs the ``nnf`` command line."""

import sys

from nnfoundations.cli import main

sys.exit(main())
