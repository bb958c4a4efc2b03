"""Wall time and peak memory of ``run -j 1`` and ``-j 2``, pipetask-lite against pipetask (``make bench``).

Graphs: three chained AddTasks over 20, 100 and 400 detectors (60, 300 and
1,200 quanta), each command run once, in turn, on a fresh copy of the same
repo, so that the ratios come from one run on one machine.  pipetask's
``-j 2`` starts a process per quantum and takes minutes beyond 60 quanta, so
it is only timed on the smallest graph unless ``--all`` is given.

The floor is the time the quanta themselves take at ``-j 1``: the sum of the
executor's "Execution of task ... took" log lines (the task, its existence
checks and its file writes; with pipetask's full butler also the registry's
puts; neither includes making the butler or writing the log).  For
comparison, the same quanta with nothing registered: ``pipetask-lite run-qbb
-j 1`` on the graph saved beforehand (with its init-outputs written by
``pre-exec-init-qbb``); it reads the graph from a file instead of building
it.

Peak RSS is that of the largest single process of the command (the main
process at ``-j 1``; at ``-j 2`` it may be a worker), from ``wait4``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness import env, make_add_repo  # noqa: E402

BIN = Path(sys.executable).parent
TARGETS = {
    # quanta: (lite -j 1 / pipetask -j 1, lite -j 2 / lite -j 1), from issue 14
    60: (0.6, None),
    300: (0.4, 0.7),
    1200: (0.35, 0.65),
}


def measured(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stderr of one command, checked to succeed."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=env())
        # wait4, not wait: its resource usage is the command's own (with its
        # children's, the largest of which sets ru_maxrss).
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        log = stderr.read()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{log[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, log


def task_seconds(log: str) -> float:
    """Seconds the executor says its quanta took: the tasks, their checks and puts (not making the
    butler, nor writing the log)."""
    return sum(float(m) for m in re.findall(r"Execution of task '[^']+' on quantum .* took ([0-9.]+) seconds", log))


def run_argv(tool: str, repo: Path, pipeline: Path, processes: int) -> list[str]:
    return [str(BIN / tool), "run", "-b", str(repo), "-i", "test/in", "--output-run", "out",
            "-p", str(pipeline), "--register-dataset-types", "-j", str(processes)]


def floor(repo: Path, pipeline: Path, tmp: Path) -> tuple[float, float, str]:
    """The quanta with no registration: ``run-qbb -j 1`` on a graph built (untimed) beforehand."""
    graph = tmp / "floor.qg"
    lite = str(BIN / "pipetask-lite")
    for argv in (
        [lite, "qgraph", "-b", str(repo), "-i", "test/in", "--output-run", "out", "-p", str(pipeline),
         "--qgraph-datastore-records", "-q", str(graph)],
        [lite, "pre-exec-init-qbb", str(repo), str(graph)],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env())
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return measured([lite, "run-qbb", str(repo), str(graph), "-j", "1"])


def check(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"  [target <= {target}: {'met' if value <= target else 'NOT met'}]"


def main() -> None:
    """Print wall times, peak RSS and the ratios the issue's targets are stated in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="also time pipetask -j 2 beyond 60 quanta")
    parser.add_argument("--detectors", type=int, nargs="*", default=[20, 100, 400],
                        help="graphs to time, by number of detectors (%(default)s)")
    parser.add_argument("--no-floor", dest="floor", action="store_false", help="do not time the floor")
    options = parser.parse_args()
    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"{now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in options.detectors:
            quanta = 3 * n
            template = make_add_repo(Path(tmp) / f"template{n}" / "repo", n_detectors=n, n_tasks=3)
            cases = [("pipetask-lite", 1), ("pipetask-lite", 2), ("pipetask", 1)]
            if n <= 20 or options.all:
                cases.append(("pipetask", 2))
            results = {}
            for tool, processes in cases:
                repo = Path(tmp) / f"{tool}-{n}-{processes}"
                shutil.copytree(template.root, repo)
                results[tool, processes] = measured(run_argv(tool, repo, template.pipeline, processes))
                shutil.rmtree(repo)
                seconds, rss, _ = results[tool, processes]
                print(f"{quanta:5d} quanta  {tool:<14} -j {processes}: {seconds:7.1f} s  {rss:6.0f} MB", flush=True)
            if options.floor:
                repo = Path(tmp) / f"floor-{n}"
                shutil.copytree(template.root, repo)
                seconds, rss, _ = floor(repo, template.pipeline, Path(tmp))
                shutil.rmtree(repo)
                print(f"{quanta:5d} quanta  run-qbb -j 1 (nothing registered, graph read from a file): "
                      f"{seconds:7.1f} s  {rss:6.0f} MB")
            (lite1, rss1, log1), (lite2, _, _), (pt1, pt_rss1, pt_log1) = (
                results["pipetask-lite", 1], results["pipetask-lite", 2], results["pipetask", 1])
            print(f"{quanta:5d} quanta  summed 'Execution of task ... took' lines: "
                  f"lite -j 1 {task_seconds(log1):.1f} s (the floor: tasks, checks, file writes), "
                  f"pipetask -j 1 {task_seconds(pt_log1):.1f} s (with the registry's puts)")
            target1, target2 = TARGETS.get(quanta, (None, None))
            print(f"{quanta:5d} quanta  lite -j 1 / pipetask -j 1 = {lite1 / pt1:.2f}{check(lite1 / pt1, target1)}")
            print(f"{quanta:5d} quanta  lite -j 2 / lite -j 1     = {lite2 / lite1:.2f}{check(lite2 / lite1, target2)}")
            print(f"{quanta:5d} quanta  peak RSS lite -j 1 / pipetask -j 1 = {rss1 / pt_rss1:.2f}")
            if ("pipetask", 2) in results:
                print(f"{quanta:5d} quanta  lite -j 2 / pipetask -j 2 = {lite2 / results['pipetask', 2][0]:.2f}")
            del template
            shutil.rmtree(Path(tmp) / f"template{n}")


if __name__ == "__main__":
    main()
