"""The test suite's bad inputs, in one table: docs/make_bad_inputs.py and tests/test_explain_agrees.py use it.

Each case is a command line that pipetask-lite refuses (the cases of
tests/test_bad_input.py and tests/test_side_by_side_graphs.py, and those the
hostile-input fuzzing of tests/test_hostile.py found), on the small repo of
`harness.make_add_repo`.
"""

from __future__ import annotations

from pathlib import Path


def cases(repo: str, pipeline: str, tmp: Path) -> list[tuple[str, list[str]] | tuple[str, list[str], list[str]]]:
    """(what is wrong, command line[, command run first]) tuples; REPO is replaced per tool."""
    (tmp / "not-a-graph.qg").write_text("hello")
    (tmp / "replace.yaml").write_text("run:\n  replace-run: true\n  prune-replaced: purge\n")
    (tmp / "raises.py").write_text("raise RuntimeError('boom')\n")
    base = ["run", "-b", "REPO", "-i", "test/in", "-o", "out", "-p", pipeline]
    finished = [*base, "--output-run", "out/r1", "--register-dataset-types"]
    return [
        ("`-@` adds `--replace-run` (purge) to `--extend-run`", ["run", "-b", "REPO", "-p", pipeline, "-o", "out",
         "-d", "detector < 5", "--extend-run", "-@", str(tmp / "replace.yaml")], finished),
        ("abbreviated option", [*base, "--regist"]),
        ("a pattern as `-o`", ["run", "-b", "REPO", "-i", "test/in", "-o", "out*", "-p", pipeline,
                               "--register-dataset-types"]),
        ("a pattern as `--output-run`", [*base, "--register-dataset-types", "--output-run", "test/*"]),
        ("a pattern as `-i`", ["run", "-b", "REPO", "-i", "test/*", "-o", "out", "-p", pipeline,
                               "--register-dataset-types"]),
        ("`--log-file` that cannot be opened", ["--log-file", f"{pipeline}/x.log", *base]),
        ("`--summary` under a file", [*base, "--register-dataset-types", "--summary", f"{pipeline}/s.json"]),
        ("`-C` file that raises", [*base, "--register-dataset-types", "-C", f"task0:{tmp / 'raises.py'}"]),
        ("unknown `--instrument` class", [*base, "--register-dataset-types", "--instrument", "lsst.obs.nope.Cam"]),
        ("bad `--memory-per-quantum`, dataset types not registered", [*base, "--memory-per-quantum", "3XB"]),
        ("repo path does not exist", ["run", "-b", "REPO/nope", "-i", "test/in", "-o", "out", "-p", pipeline]),
        ("unknown input collection", ["run", "-b", "REPO", "-i", "no/such", "-o", "out", "-p", pipeline]),
        ("misspelt input collection", ["run", "-b", "REPO", "-i", "test/i", "-o", "out", "-p", pipeline]),
        ("missing pipeline file", ["run", "-b", "REPO", "-i", "test/in", "-o", "out", "-p", "missing.yaml"]),
        ("`-c` without `LABEL:`", [*base, "-c", "addend=3"]),
        ("`-c` without `=`", [*base, "-c", "task0:addend"]),
        ("unknown task label in `-c`", [*base, "--register-dataset-types", "-c", "task9:addend=3"]),
        ("unknown config field", [*base, "--register-dataset-types", "-c", "task0:nofield=3"]),
        ("misspelt config field", [*base, "--register-dataset-types", "-c", "task0:adend=3"]),
        ("config value of the wrong type", [*base, "--register-dataset-types", "-c", "task0:addend=x"]),
        ("unparsable `-d`", [*base, "--register-dataset-types", "-d", "detector = = 1"]),
        ("`-d` with a double-quoted string", [*base, "--register-dataset-types", "-d", 'instrument = "INSTR"']),
        ("query that selects nothing", [*base, "--register-dataset-types", "-d", "detector = 99"]),
        ("dataset types not registered", base),
        ("bad `--memory-per-quantum`", [*base, "--register-dataset-types", "--memory-per-quantum", "3XB"]),
        ("`-j 0`", [*base, "-j", "0"]),
        ("`--timeout -1`", [*base, "--timeout", "-1"]),
        ("unknown `--start-method`", [*base, "--start-method", "thread"]),
        ("`--extend-run` with `--replace-run`", [*base, "--extend-run", "--replace-run"]),
        ("`--prune-replaced` without `--replace-run`", [*base, "--prune-replaced", "purge"]),
        ("`--extend-run` on an output that does not exist", [*base, "--extend-run"]),
        ("`--extend-run` on a misspelt `-o`", ["run", "-b", "REPO", "-o", "ou", "-p", pipeline, "--extend-run"],
         finished),
        ("`--replace-run` on an output that does not exist", [*base, "--replace-run"]),
        ("`-g` file that is not a graph", ["run", "-b", "REPO", "-i", "test/in", "-o", "out", "-g",
                                            str(tmp / "not-a-graph.qg")]),
        ("`-g` file that does not exist", ["run", "-b", "REPO", "-i", "test/in", "-o", "out", "-g",
                                            str(tmp / "missing.qg")]),
        # The graph is saved next to the repo (REPO is replaced per tool: one graph per repo).
        ("`--output-run` that is not the `-g` graph's", ["run", "-b", "REPO", "-i", "test/in", "-o", "out",
         "-g", "REPO-saved.qg", "--output-run", "out/other"],
         ["qgraph", "-b", "REPO", "-i", "test/in", "-o", "out", "-p", pipeline, "--output-run", "out/saved",
          "-q", "REPO-saved.qg"]),
        ("unknown `--show` item", [*base, "--show", "nonsense"]),
        ("unknown `--select-tasks` label", [*base, "--register-dataset-types", "--select-tasks", "nolabel"]),
        ("unreadable `--data-id-table`", [*base, "--register-dataset-types", "--data-id-table",
                                          str(tmp / "missing.ecsv")]),
        ("no `-o` and no `--output-run`", ["run", "-b", "REPO", "-i", "test/in", "-p", pipeline]),
        ("`-b` a file that is not a repo config", ["run", "-b", pipeline, "-i", "test/in", "-o", "out", "-p", pipeline]),
        ("`-p` a directory", ["run", "-b", "REPO", "-i", "test/in", "-o", "out", "-p", str(tmp)]),
        ("empty `-o`", ["run", "-b", "REPO", "-i", "test/in", "-o", "", "-p", pipeline, "--register-dataset-types"]),
        ("`-d` that is not a condition", [*base, "--register-dataset-types", "-d", "1"]),
        ("`-t` label with a `:`", ["run", "-b", "REPO", "-i", "test/in", "-o", "out", "-t",
                                   "lsst.pipe.base.tests.simpleQGraph.AddTask:a:b", "--register-dataset-types"]),
        ("`--skip-existing-in` a missing collection", [*base, "--register-dataset-types", "--skip-existing-in",
                                                       "no/such"]),
        ("`--skip-existing-in` a misspelt collection", [*base, "--register-dataset-types", "--skip-existing-in",
                                                        "test/chan"]),
        ("`--summary` in a missing directory (created, as for `-q`)", [*base, "--register-dataset-types",
                                                                       "--summary", str(tmp / "nodir" / "s.json")]),
    ]
