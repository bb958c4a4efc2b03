"""``python -m pipetask_lite``: the same as the ``pipetask-lite`` command."""

import sys

from .cli import main

sys.exit(main())
