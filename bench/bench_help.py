"""Time ``--help`` of pipetask-lite against pipetask (``make bench``).

pipetask-lite keeps the LSST stack out of its parser module, so ``--help``
and usage errors answer without the ~1-3 s import; this prints both.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEAT = 5
BIN = Path(sys.executable).parent


def wall_time(argv: list[str]) -> float:
    """Median wall time in seconds of running ``argv`` to completion."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print a table of median times and the ratio pipetask-lite / pipetask."""
    print(f"median of {REPEAT} runs, seconds")
    print(f"{'command':<28}{'pipetask':>10}{'pipetask-lite':>15}{'ratio':>8}")
    for args in (["--help"], ["run", "--help"]):
        theirs = wall_time([str(BIN / "pipetask"), *args])
        ours = wall_time([str(BIN / "pipetask-lite"), *args])
        print(f"{' '.join(args):<28}{theirs:>10.3f}{ours:>15.3f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
