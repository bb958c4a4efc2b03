"""The argparse front end: pipetask's options, spellings, defaults and rules.

pipetask's own Click command is introspected here (tests may import it; the
package never does) so that a new pipetask option shows up as a failure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipetask_lite._compat import NEW_BUILDER_OPTIONS, builder_takes
from pipetask_lite.actions import PipelineAction
from pipetask_lite.cli import build_parser, parse_args, subcommand_parser

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "pipetask_lite"
BASE = ["run", "-b", "REPO", "-o", "out", "-p", "p.yaml"]


def click_options(command):
    """Yield (option strings, secondary strings, default, multiple, is_flag) of a Click command."""
    import click

    for param in command.params:
        if not isinstance(param, click.Option) or param.opts[0].startswith("--option-section"):
            continue
        yield param.opts, param.secondary_opts, param.default, param.multiple, param.is_flag


def normalise_default(value, *, multiple: bool, is_flag: bool):
    """Map Click's and argparse's ways of saying "nothing given" to one value."""
    unset = value is None or type(value).__name__ == "Sentinel"
    if multiple:
        return [] if unset or value in ((), []) else list(value)
    if is_flag and unset:
        return False
    return None if unset else value


def our_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: action for action in parser._actions for opt in action.option_strings}


SUBCOMMANDS = [
    "build", "qgraph", "run", "run-qbb", "pre-exec-init-qbb", "update-graph-run", "report", "aggregate-reports",
    "cleanup", "purge",
]


def pipetask_command(subcommand: str):
    """pipetask's Click command for a subcommand (``run-qbb`` is ``cmd.run_qbb``)."""
    from lsst.ctrl.mpexec.cli import cmd

    return getattr(cmd, subcommand.replace("-", "_"))


def test_every_pipetask_subcommand_exists():
    import click
    from lsst.ctrl.mpexec.cli.pipetask import cli as pipetask_cli

    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(subparsers.choices) == sorted(pipetask_cli.list_commands(click.Context(pipetask_cli)))
    assert sorted(subparsers.choices) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_subcommand_has_pipetask_positional_arguments(subcommand):
    """Same positional arguments, in the same order, each taking one value or any number."""
    import click

    theirs = [
        (param.name, param.nargs) for param in pipetask_command(subcommand).params
        if isinstance(param, click.Argument)
    ]
    ours = [
        (action.dest, {None: 1, "*": -1}[action.nargs])
        for action in subcommand_parser(build_parser(), subcommand)._actions if not action.option_strings
    ]
    assert ours == theirs


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_subcommand_has_every_pipetask_option_with_same_default(subcommand):
    pipetask_command_ = pipetask_command(subcommand)
    ours = our_actions(subcommand_parser(build_parser(), subcommand))
    seen = set()
    for opts, secondary, default, multiple, is_flag in click_options(pipetask_command_):
        for opt in opts + secondary:
            assert opt in ours, f"pipetask {subcommand} option {opt} missing from pipetask-lite {subcommand}"
            seen.add(opt)
        action = ours[opts[0]]
        if action.dest == "pipeline_actions":
            continue  # one ordered list for -t/--delete/-c/-C/--instrument
        ours_default = normalise_default(action.default, multiple=multiple, is_flag=is_flag)
        theirs = normalise_default(default, multiple=multiple, is_flag=is_flag)
        if opts[0] in ("-d", "--data-query"):
            theirs = theirs or ""  # pipetask turns a missing -d into ""
        assert ours_default == theirs, f"default of {opts[0]}: {ours_default!r} != pipetask's {theirs!r}"
    # The newer release's options are there on every line; on an older
    # release pipetask lacks them, and pipetask-lite refuses them when used.
    newer = {option for option in NEW_BUILDER_OPTIONS if not builder_takes(option)}
    extra = set(ours) - seen - {"-h", "--help"} - newer
    assert not extra, f"options pipetask {subcommand} does not have: {sorted(extra)}"


def test_global_options_match_pipetask():
    from lsst.ctrl.mpexec.cli.pipetask import cli as pipetask_cli

    ours = our_actions(build_parser())
    for opts, secondary, *_ in click_options(pipetask_cli):
        for opt in opts + secondary:
            assert opt in ours, f"global option {opt} missing"


def test_pipetask_help_lists_no_option_we_lack():
    """Cross-check with the help text itself, as a user would read it."""
    from lsst.ctrl.mpexec.cli.cmd import run as pipetask_run

    help_text = subprocess.run(
        [str(Path(sys.executable).parent / "pipetask"), "run", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    listed = set(re.findall(r"(?<![\w-])(--?[A-Za-z@][\w-]*)", help_text))
    ours = our_actions(subcommand_parser(build_parser(), "run"))
    declared = {o for opts, sec, *_ in click_options(pipetask_run) for o in opts + sec}
    # Words in the prose (like --where) are not options; check those pipetask declares.
    assert declared <= listed | {"-@"}
    assert declared <= set(ours)


def test_multi_value_options_split_commas_and_accumulate():
    args = parse_args([*BASE, "-i", "a,b", "-i", "c", "--skip-existing-in", "x,y"])
    assert args.input == ["a", "b", "c"]


def test_pipeline_actions_keep_command_line_order():
    args = parse_args(
        [
            *BASE, "-c", "isr:a=1", "--instrument", "my.Instrument", "-t", "pkg.Task:lbl",
            "--delete", "old", "-C", "isr:one.py,isr:two.py", "-c", "isr:a=2", "-t", "pkg.Other",
        ]
    )
    assert args.pipeline_actions == [
        PipelineAction("config", "isr", "a=1"),
        PipelineAction("instrument", None, "my.Instrument"),
        PipelineAction("task", "lbl", "pkg.Task"),
        PipelineAction("delete", "old", ""),
        PipelineAction("config_file", "isr", "one.py"),
        PipelineAction("config_file", "isr", "two.py"),
        PipelineAction("config", "isr", "a=2"),
        PipelineAction("task", None, "pkg.Other"),
    ]


def test_config_value_may_contain_colons_and_equals():
    args = parse_args([*BASE, "-c", "isr:doWrite=a:b=c"])
    assert args.pipeline_actions == [PipelineAction("config", "isr", "doWrite=a:b=c")]


def test_defaults_are_pipetasks():
    args = parse_args(BASE)
    assert args.processes == 1
    assert args.cores_per_quantum == 1
    assert args.raise_on_partial_outputs is True
    assert args.memory_per_quantum == ""
    assert args.timeout is None and args.start_method is None
    assert args.log_tty is True and args.log_level == []


def test_global_logging_options_before_subcommand():
    args = parse_args(
        ["--log-level", "DEBUG", "--log-level", "lsst.daf.butler=warning", "--long-log", "--no-log-tty",
         "--log-file", "a.log,b.json", "--log-label", "K=V", *BASE]
    )
    assert args.log_level == [(None, "DEBUG"), ("lsst.daf.butler", "WARNING")]
    assert args.long_log and not args.log_tty
    assert args.log_file == ["a.log", "b.json"]
    assert args.log_label == [("K", "V")]


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*BASE, "--extend-run", "--replace-run"], "not allowed with argument"),
        ([*BASE, "--prune-replaced", "purge"], "--prune-replaced requires --replace-run"),
        (["run", "-b", "R", "--output-run", "r", "-p", "p", "--replace-run"], "--replace-run requires -o"),
        (["run", "-o", "out", "-p", "p.yaml"], "-b/--butler-config"),
        (["run", "-b", "R", "-p", "p.yaml"], "-o/--output and --output-run"),
        (["run", "-b", "R", "-o", "o"], "a pipeline is required"),
        ([*BASE, "-g", "g.qg"], "-g/--qgraph loads a saved graph; it cannot be combined with -p/--pipeline"),
        ([*BASE, "--qgraph-node-id", "x"], "--qgraph-id and --qgraph-node-id apply only to a graph loaded"),
        ([*BASE, "--mock-failure", "a:b:c"], "--mock-failure and --unmocked-dataset-types require --mock"),
        (["qgraph", "-b", "R", "-p", "p.yaml"], "-o/--output and --output-run"),
        ([*BASE, "-c", "isr.a=1"], "argument -c/--config: expected LABEL:NAME=VALUE"),
        ([*BASE, "-c", "isr:a"], "argument -c/--config: expected LABEL:NAME=VALUE"),
        ([*BASE, "-j", "0"], "argument -j/--processes: 0 is smaller than the minimum 1"),
        ([*BASE, "-n", "x"], "argument -n/--cores-per-quantum: 'x' is not an integer"),
        ([*BASE, "--timeout", "-1"], "argument --timeout"),
        ([*BASE, "--start-method", "thread"], "argument --start-method: invalid choice"),
        ([*BASE, "--prune-replaced", "all"], "argument --prune-replaced: invalid choice"),
        (["--log-level", "LOUD", *BASE], "argument --log-level: 'LOUD' is not one of"),
        (["--log-label", "novalue", *BASE], "argument --log-label: expected KEY=VALUE"),
        (["run-qbb", "REPO"], "the following arguments are required: QGRAPH"),
        (["run-qbb", "REPO", "G.qg", "-j", "0"], "argument -j/--processes: 0 is smaller than the minimum 1"),
        (["pre-exec-init-qbb", "REPO", "G.qg", "--qgraph-node-id", "x"], "unrecognized arguments"),
        ([*BASE, "--explain"], "--explain is an option of pipetask-lite itself: give it before 'run'"),
        ([*BASE, "--long-log"], "--long-log is an option of pipetask-lite itself: give it before 'run'"),
        (["update-graph-run", "G.qg", "RUN"], "the following arguments are required: OUTPUT_QGRAPH"),
        (["report", "REPO"], "the following arguments are required: QGRAPHS"),
        (["report", "REPO", "G.qg", "--read-caveats", "all"], "argument --read-caveats: invalid choice"),
        (["cleanup", "out"], "the following arguments are required: -b/--butler-config"),
        (["purge", "-b", "REPO"], "the following arguments are required: COLLECTION"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    first, *rest = err.strip().splitlines()
    assert message in first
    assert first.startswith("pipetask-lite")
    assert all(line.startswith("hint:") for line in rest)


def test_options_file_gives_defaults_that_the_command_line_overrides(tmp_path):
    options = tmp_path / "opts.yaml"
    options.write_text(
        "run:\n"
        "  butler-config: FROM_FILE\n"
        "  input: [a, b]\n"
        "  o: out_from_file\n"
        "  pipeline: p.yaml\n"
        "  register-dataset-types: true\n"
        "  processes: 2\n"
        "  config: ['isr:a=1']\n"
        "qgraph:\n"
        "  input: [ignored]\n"
    )
    args = parse_args(["run", "-@", str(options), "-i", "c", "-c", "isr:a=2", "-o", "out"])
    assert args.butler_config == "FROM_FILE"
    assert args.input == ["c"]  # given on the command line: replaces the file's value
    assert args.output == "out"
    assert args.register_dataset_types is True
    assert args.processes == 2
    assert args.pipeline_actions == [PipelineAction("config", "isr", "a=1"), PipelineAction("config", "isr", "a=2")]


@pytest.mark.parametrize(
    "content, message",
    [
        ("run:\n  no-such-option: 1\n", "'no-such-option' is not an option of 'run'"),
        ("run:\n  processes: zero\n", "processes: 'zero' is not an integer"),
        ("- a\n- b\n", "is not a YAML mapping"),
    ],
)
def test_bad_options_file_is_a_usage_error(tmp_path, capsys, content, message):
    options = tmp_path / "opts.yaml"
    options.write_text(content)
    with pytest.raises(SystemExit) as exc:
        parse_args([*BASE, "-@", str(options)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_help_imports_no_lsst_and_no_click():
    for argv in (["--help"], ["run", "--help"], ["run-qbb", "--help"], ["report", "--help"], ["purge", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pipetask_lite", *argv],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0
        assert "--butler-config" in proc.stdout or argv[0] in ("--help", "run-qbb", "report")
        imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
        assert "lsst" not in imported and "click" not in imported, sorted(imported)


def test_package_never_imports_click_or_pipetask_cli():
    for path in PACKAGE_DIR.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import click|from click)", text, re.M), path
        assert "lsst.ctrl.mpexec.cli" not in text, path


def test_bps_qgraph_command_line_parses():
    """The line ctrl_bps generates to build a graph, with pipetask-lite in place of pipetask."""
    args = parse_args(
        ["--long-log", "--log-level=VERBOSE", "qgraph", "--butler-config", "REPO", "-i", "IN", "-o", "OUT",
         "--output-run", "RUN", "--pipeline", "P.yaml", "--save-qgraph", "G.qg", "--qgraph-datastore-records",
         "-d", "instrument='X'"]
    )
    assert (args.subcommand, args.output_run, args.save_qgraph) == ("qgraph", "RUN", "G.qg")
    assert args.qgraph_datastore_records and args.long_log and args.log_level == [(None, "VERBOSE")]


def test_options_file_does_not_override_a_flag_given_on_the_command_line(tmp_path):
    options = tmp_path / "opts.yaml"
    options.write_text("run:\n  raise-on-partial-outputs: false\n  processes: 2\n")
    args = parse_args([*BASE, "-@", str(options), "--raise-on-partial-outputs", "-j", "1"])
    assert args.raise_on_partial_outputs is True and args.processes == 1
    args = parse_args([*BASE, "-@", str(options)])
    assert args.raise_on_partial_outputs is False and args.processes == 2
