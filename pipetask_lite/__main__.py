"""``python -m pipetask_lite``: the same as the ``pipetask-lite`` command."""

from ._main import console_main

console_main()
