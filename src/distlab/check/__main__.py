"""``python -m distlab.check``: see `distlab.check.cli`."""

import sys

from distlab.check.cli import main

sys.exit(main())
