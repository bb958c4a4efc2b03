"""Wall times of ``run -j 1`` and ``-j 2``, pipetask-lite against pipetask (``make bench``).

Graphs: three chained AddTasks over 20 detectors (60 quanta) and over 100
detectors (300 quanta), each run on a fresh copy of the same repo.  pipetask's
``-j 2`` starts a process per quantum and takes minutes on the larger graph,
so it is only timed on the smaller one unless ``--all`` is given.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness import env, make_add_repo  # noqa: E402

BIN = Path(sys.executable).parent


def timed_run(tool: str, repo: Path, pipeline: Path, processes: int) -> float:
    """Seconds for one ``TOOL run -j N`` on ``repo``, checked to succeed."""
    argv = [str(BIN / tool), "run", "-b", str(repo), "-i", "test/in", "--output-run", "out",
            "-p", str(pipeline), "--register-dataset-types", "-j", str(processes)]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env())
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    """Print wall times and the ratios the issue's targets are stated in."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--all", action="store_true", help="also time pipetask -j 2 on 300 quanta")
    parser.add_argument("--detectors", type=int, nargs="*", default=[20, 100])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in options.detectors:
            template = make_add_repo(Path(tmp) / f"template{n}" / "repo", n_detectors=n, n_tasks=3)
            times = {}
            cases = [("pipetask-lite", 1), ("pipetask-lite", 2), ("pipetask", 1)]
            if n <= 20 or options.all:
                cases.append(("pipetask", 2))
            for tool, processes in cases:
                repo = Path(tmp) / f"{tool}-{n}-{processes}"
                shutil.copytree(template.root, repo)
                times[tool, processes] = timed_run(tool, repo, template.pipeline, processes)
                print(f"{3 * n:4d} quanta  {tool:<14} -j {processes}: {times[tool, processes]:7.1f} s", flush=True)
            lite1, lite2, pt1 = times["pipetask-lite", 1], times["pipetask-lite", 2], times["pipetask", 1]
            print(f"{3 * n:4d} quanta  lite -j 2 / lite -j 1 = {lite2 / lite1:.2f}")
            print(f"{3 * n:4d} quanta  lite -j 1 / pipetask -j 1 = {lite1 / pt1:.2f}")
            if ("pipetask", 2) in times:
                print(f"{3 * n:4d} quanta  lite -j 2 / pipetask -j 2 = {lite2 / times['pipetask', 2]:.2f}")


if __name__ == "__main__":
    main()
