"""A misspelt name gets the closest existing one: collections, config fields, and ``-d``'s quotes.

The cases are also in the table of bad inputs (tests/bad_inputs.py), so
docs/bad-inputs.md shows them and tests/test_explain_agrees.py checks that the
explained script says the same; here, the name suggested.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from pipetask_lite._suggest import did_you_mean, single_quotes_note
from pipetask_lite._main import main


def error_line(argv: list[str]) -> str:
    """The command's error line, run in this process (it must fail with exit 1)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    assert code == 1, err.getvalue()
    return next(line for line in err.getvalue().splitlines() if ": error: " in line)


def test_the_closest_names_only():
    assert did_you_mean("DemoCam/raw/al", ["DemoCam/calib", "DemoCam/raw/all", "DemoCam/calib/bias"]) == (
        " (did you mean 'DemoCam/raw/all'?)"
    )
    # As close: both named, in order.
    assert did_you_mean("test/in", ["test/in1", "test/in2", "other"]) == " (did you mean 'test/in1' or 'test/in2'?)"
    assert did_you_mean("nofield", ["addend", "connections"]) == ""
    assert did_you_mean("x", []) == ""


def test_single_quotes_note():
    assert single_quotes_note('instrument="DemoCam"') == " (string literals take single quotes: 'DemoCam', not \"DemoCam\")"
    assert single_quotes_note("instrument='DemoCam'") == ""
    assert single_quotes_note("instrument='Demo\"Cam\"' AND detector = = 1") == ""  # quotes inside a literal


@pytest.fixture
def base(add_repo):
    return ["run", "-b", str(add_repo.root), "-p", str(add_repo.pipeline), "--register-dataset-types"]


@pytest.mark.parametrize("option, value, meant", [
    ("-i", "test/i", "test/in"),
    ("--skip-existing-in", "test/chan", "test/chain"),
])
def test_a_misspelt_collection(base, option, value, meant):
    extra = ["-i", "test/in"] if option != "-i" else []
    line = error_line([*base, "-o", "out", option, value, *extra])
    assert line.endswith(f"no collection named {value!r} in repo {base[2]!r} (did you mean {meant!r}?)"), line


def test_a_misspelt_output_to_extend(base):
    assert main([*base, "-i", "test/in", "-o", "out", "--output-run", "out/r1"]) == 0
    line = error_line([*base, "-o", "ou", "--extend-run"])
    assert line.endswith("output collection 'ou' does not exist or is empty (did you mean 'out'?)"), line
    line = error_line([*base, "-o", "out", "--output-run", "out/r2", "--extend-run"])
    assert line.endswith("(did you mean 'out/r1'?)"), line


@pytest.mark.parametrize("override, meant", [
    ("task0:adend=3", "addend"),  # the last name: pex_config's Config.__setattr__ refuses it
    ("task0:connectons.input_name=x", "connections"),  # a name before it: Python's attribute lookup
])
def test_a_misspelt_config_field(base, override, meant):
    line = error_line([*base, "-i", "test/in", "-o", "out", "-c", override])
    assert "-c/--config: " in line and line.endswith(f"(did you mean {meant!r}?)"), line


def test_a_double_quoted_string_in_the_query(base):
    line = error_line([*base, "-i", "test/in", "-o", "out", "-d", 'instrument = "INSTR"'])
    assert "-d/--data-query: " in line, line
    assert line.endswith("(string literals take single quotes: 'INSTR', not \"INSTR\")"), line
