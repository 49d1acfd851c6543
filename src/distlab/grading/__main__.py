"""``python -m distlab.grading submitted/``: grade a class's lab notebooks into a gradebook."""

import sys

from distlab.grading.gradebook import main

sys.exit(main())
