"""Preloaded by the workers' forkserver only: it exits without tearing down its imports.

The forkserver imports the LSST stack once for all workers (see
`pipetask_lite._execution.parallel.PRELOAD`).  When pipetask-lite ends, it would spend
about 0.4 s tearing those modules down, holding the command's stderr open
meanwhile; it owns nothing that needs cleaning up, so it leaves at once.
Workers forked from it end through `os._exit` already and never run this.
"""

import atexit
import os

atexit.register(os._exit, 0)
