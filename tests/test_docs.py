"""docs/options.md is generated from the parser; it must not go stale."""

from pathlib import Path

from pipetask_lite._options_doc import FUNCTIONS, LSST_CALLS, render
from pipetask_lite.cli import build_parser, subcommand_parser

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_options_md_is_current():
    assert (DOCS / "options.md").read_text() == render(), "docs/options.md is stale: run 'make docs'"


def test_every_option_of_every_subcommand_is_in_the_table():
    parser = build_parser()
    text = render()
    for sub in (parser, *(subcommand_parser(parser, name) for name in FUNCTIONS)):
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.dest in LSST_CALLS, action.dest
                assert all(f"`{o}`" in text for o in action.option_strings)
