"""Never less safe than pipetask: the rules hold on the options the command actually uses.

The command line merged with every ``-@`` file, and the Python API's
keywords, are checked by the same rules before anything is opened; the
resume command is built from those merged options; abbreviations are
refused; every failure names the option at fault, in one line, with the repo
unchanged.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys

import pytest
from harness import diff_snapshots, run_cli, run_pipetask, snapshot
from harness import call_main, one_error_line, run_argv

import pipetask_lite
from pipetask_lite import UsageError
from pipetask_lite.cli import command_line, parse_args, resume_command


@pytest.fixture
def finished(add_repo):
    """The issue's repo: one finished run ``out/r1`` in chain ``out``, detectors 0-2."""
    done = run_cli(run_argv(add_repo, "--output-run", "out/r1", "--register-dataset-types"))
    assert done.returncode == 0, done.stderr
    return add_repo


def test_options_file_cannot_turn_extend_run_into_replace_run(tmp_path, finished):
    """The data-loss line of the issue: refused, and the run it meant to resume is intact."""
    options = tmp_path / "opts.yaml"
    options.write_text("run:\n  replace-run: true\n  prune-replaced: purge\n")
    before = snapshot(finished.root)
    proc = call_main(["run", "-b", str(finished.root), "-p", str(finished.pipeline), "-o", "out", "--extend-run",
                      "-@", str(options), "-d", "detector < 5"])
    assert proc.returncode == 2, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first == (f"pipetask-lite run: error: --replace-run: not allowed with argument --extend-run "
                     f"(with -@/--options-file {str(options)!r})")
    assert "Traceback" not in proc.stderr
    assert diff_snapshots(before, snapshot(finished.root)) == ""


def test_options_file_extend_run_with_command_line_replace_run(tmp_path):
    options = tmp_path / "opts.yaml"
    options.write_text("run:\n  extend-run: true\n")
    with pytest.raises(SystemExit) as exc:
        parse_args(["run", "-b", "R", "-o", "out", "-p", "p.yaml", "--replace-run", "-@", str(options)])
    assert exc.value.code == 2


@pytest.mark.parametrize("function", ["qgraph", "run"])
def test_python_api_applies_the_same_rules(finished, function):
    before = snapshot(finished.root)
    with pytest.raises(UsageError, match=r"^replace_run= \(--replace-run\): not allowed with argument extend_run= \(--extend-run\)$") as info:
        getattr(pipetask_lite, function)(
            butler_config=str(finished.root), output="out", pipeline=str(finished.pipeline), extend_run=True,
            replace_run=True, prune_replaced="purge",
        )
    assert info.value.exit_code == 2
    assert diff_snapshots(before, snapshot(finished.root)) == ""


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"prune_replaced": "purge"}, "prune_replaced= (--prune-replaced) requires replace_run= (--replace-run)"),
        ({"prune_replaced": "all", "replace_run": True}, "prune_replaced= (--prune-replaced): 'all' is not one of unstore, purge"),
        ({"output": None, "output_run": "r", "replace_run": True}, "replace_run= (--replace-run) requires output= (-o/--output)"),
        ({"mock_failure": ["a:b:c"]}, "mock_failure= (--mock-failure) and unmocked_dataset_types= (--unmocked-dataset-types) require mock= (--mock)"),
        ({"qgraph_id": "x"}, "qgraph_id= (--qgraph-id) and qgraph_node_id= (--qgraph-node-id) apply only"),
        ({"processes": 0}, "processes= (-j/--processes): 0 is not an integer >= 1"),
        ({"timeout": -1}, "timeout= (--timeout): -1 is not an integer >= 0"),
        ({"input": ["test/*"]}, "input= (-i/--input): 'test/*' is a pattern"),
        ({"output": "out*"}, "output= (-o/--output): 'out*' is a pattern"),
        ({"output_run": "out/r[12]"}, "output_run= (--output-run): 'out/r[12]' is a pattern"),
        ({"skip_existing_in": ["out?"]}, "skip_existing_in= (--skip-existing-in): 'out?' is a pattern"),
        ({"output": " "}, "output= (-o/--output): a collection name cannot be empty"),
    ],
)
def test_python_api_usage_errors(add_repo, keywords, message):
    # From Python the keyword is named as typed, then the option it mirrors (issue 27).
    kwargs = {"butler_config": str(add_repo.root), "input": ["test/in"], "output": "out",
              "pipeline": str(add_repo.pipeline), **keywords}
    with pytest.raises(UsageError) as info:
        pipetask_lite.run(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "extra, option",
    [
        (["-i", "test/*"], "-i/--input"),
        (["--output-run", "test/*"], "--output-run"),
        (["--skip-existing-in", "out*"], "--skip-existing-in"),
    ],
)
def test_pattern_collection_names_are_refused_before_any_write(add_repo, extra, option):
    before = snapshot(add_repo.root)
    proc = call_main([*run_argv(add_repo), *extra])
    assert proc.returncode == 2
    assert f"{option}: " in proc.stderr.splitlines()[0] and "is a pattern" in proc.stderr
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


def test_pattern_output_is_refused_where_pipetask_fails_late(add_repo):
    proc = call_main(["run", "-b", str(add_repo.root), "-i", "test/in", "-o", "out*", "-p", str(add_repo.pipeline)])
    assert proc.returncode == 2
    assert "-o/--output: 'out*' is a pattern" in proc.stderr


# ---------------------------------------------------------------------------
# Abbreviations: refused, as by Click
# ---------------------------------------------------------------------------


@pytest.mark.pipetask
@pytest.mark.parametrize("argv", [["run", "--regist"], ["run", "--extend"], ["--log-lev", "DEBUG", "run"]])
def test_abbreviated_options_are_refused_like_pipetask(add_repo, argv):
    full = [*argv, "-b", str(add_repo.root), "-i", "test/in", "-o", "out", "-p", str(add_repo.pipeline)]
    before = snapshot(add_repo.root)
    ours, theirs = run_cli(full), run_pipetask(full)
    assert (ours.returncode, theirs.returncode) == (2, 2), (ours.stderr, theirs.stderr)
    word = next(w for w in argv if w.startswith("--"))
    assert f"No such option '{word}'" in theirs.stderr
    assert f"unrecognized arguments: {word}" in ours.stderr
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


def test_unknown_option_gets_a_suggestion(capsys):
    with pytest.raises(SystemExit):
        parse_args(["run", "-b", "R", "-o", "out", "-p", "p.yaml", "--regist"])
    assert "(did you mean --rebase or --register-dataset-types?)" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The resume command: built from the merged options
# ---------------------------------------------------------------------------


ROUND_TRIPS = [
    ["run", "-b", "R", "-i", "a,b", "-i", "c", "-o", "out", "-p", "p.yaml", "-c", "isr:a=1", "-t", "pkg.T:lbl",
     "--delete", "old", "-C", "isr:one.py,isr:two.py", "--instrument", "my.Instrument", "-d", "-1 > detector",
     "-j", "2", "--no-raise-on-partial-outputs", "--pdb", "--summary", "s.json", "--mock-failure", "a:b:c",
     "--mock"],
    ["--log-level", "DEBUG", "--log-level", "lsst.daf.butler=WARNING", "--no-log-tty", "--log-label", "K=V",
     "--log-file", "a.log", "run", "-b", "R", "--output-run", "r", "-p", "p.yaml#a,b", "--select-tasks", "a",
     "--timeout", "0", "--start-method", "spawn", "--memory-per-quantum", "3GB", "--data-id-table", "t,u.csv"],
    ["qgraph", "-b", "R", "-o", "out", "-g", "g.qg", "--qgraph-node-id", "x,y", "--show", "graph,uri"],
]


@pytest.mark.parametrize("argv", ROUND_TRIPS, ids=["run", "globals", "qgraph"])
def test_command_line_parses_back_to_the_same_options(argv):
    args = parse_args(argv)
    assert vars(parse_args(command_line(args))) == vars(args)


def test_resume_command_repeats_the_options_file_and_drops_replace_run(tmp_path):
    options = tmp_path / "opts.yaml"
    options.write_text("run:\n  butler-config: FROM_FILE\n  input: [a]\n  replace-run: true\n"
                       "  prune-replaced: purge\n  config: ['isr:a=1']\n  processes: 2\n")
    args = parse_args(["run", "-@", str(options), "-o", "out", "-p", "p.yaml", "-c", "isr:b=2"])
    words = shlex.split(resume_command(args, output_run="out/20240101T000000Z", cut=True))
    assert words[0] == "pipetask-lite"
    assert "-@" not in words and "--options-file" not in words
    resumed = parse_args(words[1:])
    assert (resumed.butler_config, resumed.input, resumed.output) == ("FROM_FILE", ["a"], "out")
    assert resumed.output_run == "out/20240101T000000Z"
    assert resumed.extend_run and resumed.skip_existing and resumed.clobber_outputs
    assert not resumed.replace_run and resumed.prune_replaced is None
    assert resumed.pipeline_actions == args.pipeline_actions and resumed.processes == 2


# ---------------------------------------------------------------------------
# Each message names the option at fault
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, files, option, words",
    [
        (["-C", "task0:{raises}"], {"raises": "raise RuntimeError('boom')\n"}, "-C/--config-file",
         ["raises.py", "RuntimeError: boom"]),
        (["-C", "task0:{unknown}"], {"unknown": "config.no_such_field = 1\n"}, "-C/--config-file",
         ["unknown.py", "no_such_field"]),
        (["-C", "task0:{broken}", "-c", "task0:addend=3"], {"broken": "config.addend = (\n"}, "-C/--config-file",
         ["broken.py", "SyntaxError"]),
        (["-c", "task0:addend=3", "-C", "task0:{missing}"], {}, "-C/--config-file", ["missing.py"]),
        (["--instrument", "lsst.obs.nope.Camera"], {}, "--instrument", ["cannot import 'lsst.obs.nope.Camera'"]),
        (["--instrument", "builtins.int"], {}, "--instrument", ["'builtins.int' is not a subclass of Instrument"]),
        (["-t", "lsst.pipe.base.Pipeline:extra"], {}, "-t/--task", ["is not a subclass of PipelineTask"]),
        (["--memory-per-quantum", "3XB"], {}, "--memory-per-quantum", ["'3XB'"]),
        (["--summary", "{pipeline}/s.json"], {}, "--summary", ["is not a directory"]),
        (["--profile", "{repo}"], {}, "--profile", ["it is a directory"]),
    ],
    ids=["config-file-raises", "config-file-unknown-field", "config-file-not-python", "config-file-missing",
         "unknown-instrument", "instrument-not-an-instrument", "task-not-a-task", "bad-memory-before-datasets",
         "summary-under-a-file", "profile-is-a-directory"],
)
def test_messages_name_the_option_at_fault(tmp_path, add_repo, extra, files, option, words):
    paths = {name: tmp_path / f"{name}.py" for name in (*files, "missing")}
    for name, text in files.items():
        paths[name].write_text(text)
    fill = {**{k: str(v) for k, v in paths.items()}, "pipeline": str(add_repo.pipeline), "repo": str(add_repo.root)}
    before = snapshot(add_repo.root)
    # No --register-dataset-types: its check must not come first.
    proc = call_main(run_argv(add_repo, *(word.format(**fill) for word in extra)))
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert line.startswith(f"pipetask-lite run: error: {option}: "), line
    for word in words:
        assert word in line, line
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


def test_log_file_that_cannot_be_opened_is_one_line(tmp_path, add_repo):
    proc = call_main(["--log-file", str(add_repo.pipeline / "x.log"), *run_argv(add_repo)])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0].startswith("pipetask-lite run: error: --log-file: cannot write ")


def test_write_paths_create_their_parent_directories(tmp_path, add_repo):
    """As lsst.resources does for -q; pipetask itself fails on --summary, --profile and --log-file there."""
    out = tmp_path / "new" / "dirs"
    proc = run_cli(["--log-file", str(out / "run.log"), *run_argv(add_repo, "--register-dataset-types"),
                    "--summary", str(out / "summary.json"), "--profile", str(out / "run.prof"),
                    "-q", str(out / "graph.qg"), "--qgraph-dot", str(out / "graph.dot"),
                    "--pipeline-dot", str(out / "pipeline.dot"), "-s", str(out / "pipeline.yaml")])
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == ["graph.dot", "graph.qg", "pipeline.dot", "pipeline.yaml", "run.log",
                                       "run.prof", "summary.json"]


def test_an_unexpected_exception_is_not_blamed_on_an_option():
    """An AttributeError from pipe_base itself (a changed API, say) is nobody's bad input."""
    from pipetask_lite._build import _config_error

    exc = AttributeError("'PipelineGraph' object has no attribute 'something_new'")
    try:
        raise exc
    except AttributeError as raised:
        assert _config_error(raised, []) is raised


# ---------------------------------------------------------------------------
# A repo left by a killed writer
# ---------------------------------------------------------------------------


def test_read_only_butler_opens_a_repo_with_a_hot_journal(finished):
    """SIGKILL inside a transaction leaves a journal that a read-only connection cannot roll back."""
    database = finished.root / "gen3.sqlite3"
    writer = (
        "import os, sqlite3\n"
        f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
        "c.execute('PRAGMA cache_size=1')\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute('CREATE TABLE junk (x BLOB)')\n"
        "for _ in range(2000):\n"
        "    c.execute('INSERT INTO junk VALUES (randomblob(2000))')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", writer], check=False)
    assert (finished.root / "gen3.sqlite3-journal").exists()
    proc = run_cli(run_argv(finished, "--output-run", "out/r2"))  # opens read-only first
    assert proc.returncode == 0, proc.stderr
    tables = sqlite3.connect(database).execute("SELECT name FROM sqlite_master WHERE name = 'junk'").fetchall()
    assert tables == []  # rolled back, as SQLite's recovery does


# ---------------------------------------------------------------------------
# Options files with values of the wrong kind
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("run:\n  extend-run: maybe\n", "extend-run: 'maybe' is not true or false"),
        ("run:\n  output: [a, b]\n", "output: ['a', 'b'] is not one value"),
        ("run:\n  input: null\n", "input: None is not a value or a list of values"),
        ("run:\n  input: [{a: 1}]\n", "is not a value or a list of values"),
        ("run: [a]\n", "'run' in"),
    ],
)
def test_options_file_values_of_the_wrong_kind(tmp_path, capsys, content, message):
    options = tmp_path / "opts.yaml"
    options.write_text(content)
    with pytest.raises(SystemExit) as exc:
        parse_args(["run", "-b", "R", "-o", "out", "-p", "p.yaml", "-@", str(options)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text, value", [("'no'", False), ("off", False), ("'yes'", True), ("1", True), ("0", False)])
def test_options_file_flags_read_as_click_reads_them(tmp_path, text, value):
    """``bool("no")`` is True: a quoted "no" must not turn --replace-run on."""
    options = tmp_path / "opts.yaml"
    options.write_text(f"run:\n  replace-run: {text}\n")
    assert parse_args(["run", "-b", "R", "-o", "out", "-p", "p.yaml", "-@", str(options)]).replace_run is value


def test_options_file_path_with_a_nul_byte_is_a_usage_error(capsys):
    """Found by tests/test_hostile.py on the newer release line: a traceback ('embedded null byte')."""
    from pipetask_lite._main import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "-b", "R", "-o", "out", "-p", "p.yaml", "-@", "\x00"])
    assert exc.value.code == 2
    assert "-@/--options-file: cannot read" in capsys.readouterr().err
