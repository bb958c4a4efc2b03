"""Generate ``docs/tutorial.ipynb`` from ``docs/tutorial.md``: the same page, as cells that run.

``make docs`` runs ``python -m pipetask_lite._tutorial_notebook > docs/tutorial.ipynb``;
a test fails when the committed notebook differs from what this prints, and
another runs its cells.  The page's ```` ```sh ```` and ```` ```python ````
blocks become code cells, in order (a shell command as an IPython ``!`` line,
run by the notebook's own Python: ``pipetask-lite`` is
``{sys.executable} -m pipetask_lite``); every other block stays text.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
FIRST_CELL = (
    "# The commands below run with this notebook's own Python:\n"
    "# `!{sys.executable} -m pipetask_lite ...` is `pipetask-lite ...`.\n"
    "import sys"
)


def _shell_cell(block: str) -> str:
    """A ```sh block as IPython ``!`` lines: one per command, continuation lines joined."""
    commands = re.sub(r"\\\n\s*", "", block).strip().splitlines()
    lines = []
    for command in commands:
        command = re.sub(r"^(pipetask-lite|python -m pipetask_lite)\b", "{sys.executable} -m pipetask_lite", command)
        command = re.sub(r"^python\b", "{sys.executable}", command)
        lines.append(f"!{command}")
    return "\n".join(lines)


def _cell(cell_type: str, source: str) -> dict:
    lines = source.strip("\n").splitlines(keepends=True)
    cell = {"cell_type": cell_type, "metadata": {}, "source": lines}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def render(markdown: str | None = None) -> str:
    """Return the notebook (JSON, nbformat 4) for the tutorial's Markdown."""
    text = TUTORIAL.read_text() if markdown is None else markdown
    cells = [_cell("code", FIRST_CELL)]
    prose = ""
    position = 0
    for match in FENCE.finditer(text):
        language, block = match[1], match[2]
        prose += text[position:match.start()]
        position = match.end()
        if language not in ("sh", "python"):
            prose += match[0]
            continue
        if prose.strip():
            cells.append(_cell("markdown", prose))
        prose = ""
        cells.append(_cell("code", _shell_cell(block) if language == "sh" else block))
    prose += text[position:]
    if prose.strip():
        cells.append(_cell("markdown", prose))
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
