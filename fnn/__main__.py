"""``python -m fnn``: the same as the ``fnn`` command."""

import sys

from fnn.cli import main

sys.exit(main())
