"""A clean run prints its log and its progress on stderr, and nothing else.

Python warnings are turned into errors for pipetask-lite's own modules (a
warning there is ours to fix, e.g. a deprecated LSST call made by this
package) and shown once everywhere else, in the command and in every process
it starts (``PYTHONWARNINGS`` reaches the ``-j 1`` watcher and the ``-j N``
workers).  Then every stderr line must be a log line: a warning printed by
``warnings`` (``<frozen runpy>:128: RuntimeWarning: ...``, what ``-j 1`` once
ended with) is not one.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys

import pytest
from harness import env, run_cli

import pipetask_lite

#: The command line's log format, pipetask's: ``logger LEVEL: message``.
LOG_LINE = re.compile(r"^[\w.]+ (CRITICAL|ERROR|WARNING|INFO|VERBOSE|DEBUG|TRACE): ")

#: Log records of the LSST stack that a clean run may give.  lsst.utils logs
#: this once per process when it records the package versions (the ``packages``
#: init-output) and eups, a conda/EUPS install's package manager, is absent,
#: as in every pip install: the real pipetask prints it too.
EXPECTED_WARNINGS = ("lsst.utils.packages WARNING: Unable to import eups",)

#: Warnings of others, hidden by Python's own default filters, that "default" shows.
NOT_OURS = (
    # Python 3.12 line, -j N: the workers' forkserver preloads the stack (one
    # import for all workers, `pipetask_lite._execution.parallel.PRELOAD`), and numpy's
    # OpenBLAS and pyarrow's jemalloc each start a helper thread when
    # imported, so os.fork in multiprocessing's forkserver sees a
    # "multi-threaded" process.  Both libraries handle a fork themselves
    # (pthread_atfork handlers).  The message starts with the pid, so the
    # filter is its literal start, with this category and this module only.
    "ignore:This process (pid=:DeprecationWarning:multiprocessing.forkserver",
)


def warnings_environment() -> dict[str, str]:
    """`harness.env` with warnings shown, and raised as errors in pipetask_lite's modules."""
    # The -W/PYTHONWARNINGS module field is an exact name, not a pattern: one
    # filter per module of the package (later filters win over earlier ones).
    modules = ["pipetask_lite", *(
        info.name for info in pkgutil.walk_packages(pipetask_lite.__path__, "pipetask_lite.")
    )]
    filters = ["default", *(f"error::Warning:{name}" for name in modules), *NOT_OURS]
    return env({"PYTHONWARNINGS": ",".join(filters)})


#: The one log record of more than one line: the graph summary, a table of
#: quanta per task under its first line, as pipetask logs it.
SUMMARY = re.compile(r"^lsst\.pipetask_lite INFO: QuantumGraph contains \d+ quant(um|a) for \d+ tasks?$")


def unexpected_stderr(stderr: str) -> list[str]:
    """Lines of ``stderr`` that are neither log lines nor an expected LSST warning record."""
    unexpected = []
    in_summary = False
    for line in stderr.splitlines():
        if LOG_LINE.match(line):
            in_summary = bool(SUMMARY.match(line))
        elif in_summary:
            continue  # the summary's table
        if line.strip() and (not LOG_LINE.match(line) or " WARNING: " in line) \
                and not line.startswith(EXPECTED_WARNINGS):
            unexpected.append(line)
    return unexpected


def test_the_filters_catch_a_warning_of_ours():
    """The environment does turn a warning raised in a pipetask_lite module into an error."""
    code = "import warnings; warnings.warn_explicit('x', UserWarning, 'f', 1, module='pipetask_lite._util')"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=warnings_environment(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1 and "UserWarning: x" in proc.stderr, proc.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_clean_run_prints_only_its_log(add_repo, jobs):
    proc = run_cli(
        ["run", "-b", add_repo.root, "-i", add_repo.input_run, "-o", "out", "-p", add_repo.pipeline,
         "--register-dataset-types", "-j", jobs],
        env=warnings_environment(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Executed 9 quanta successfully, 0 failed and 0 remain" in proc.stderr  # the progress
    assert unexpected_stderr(proc.stderr) == [], proc.stderr


def test_the_demo_prints_only_its_log(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipetask_lite.demo", str(tmp_path / "demo")],
        env=warnings_environment(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Executed 18 quanta successfully, 0 failed and 0 remain" in proc.stderr
    assert unexpected_stderr(proc.stderr) == [], proc.stderr
