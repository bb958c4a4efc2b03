"""``python -m pipetask_lite``: the same as the ``pipetask-lite`` command."""

from .cli import console_main

console_main()
