"""docs/tutorial.ipynb: generated from docs/tutorial.md, and its cells run (nbclient, ipykernel).

The notebook runs in a temporary directory, where its first commands build
the demo repo; every cell must run without error, and ``pipetask_lite.run``
must draw its progress bar (rich's widget) in the notebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import harness
import pytest

from pipetask_lite._tutorial_notebook import render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_notebook_is_current() -> None:
    assert (DOCS / "tutorial.ipynb").read_text() == render(), "docs/tutorial.ipynb is stale: run 'make docs'"


def test_shell_blocks_become_commands_of_the_notebooks_python() -> None:
    notebook = json.loads(render("```sh\npipetask-lite --explain run \\\n    -b r\npython -m x\n```\n"))
    code = [''.join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code[1:] == ["!{sys.executable} -m pipetask_lite --explain run -b r\n!{sys.executable} -m x"]


def test_notebook_cells_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    for name, value in harness.env().items():
        monkeypatch.setenv(name, value)  # the kernel, and the commands it runs, import the tests' tasks too
    notebook = nbformat.reads((DOCS / "tutorial.ipynb").read_text(), as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if one fails
    run_cells = [c for c in notebook.cells if c.cell_type == "code" and "pipetask_lite.run(" in c.source]
    run_cell = run_cells[0]  # section 3's; section 6 has the three paths from Python objects
    kinds = {kind for output in run_cell.outputs for kind in output.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in kinds, run_cell.outputs  # the progress bar
    assert any("quanta succeeded" in output.get("text", "") for output in run_cell.outputs), run_cell.outputs
    assert (tmp_path / "isr_quantum.py").is_file()
    # The task called with the pipeline's config, and the pitfall of a config built by hand
    # (without the instrument's overscanColumns), as the page says.
    printed = "".join(output.get("text", "") for c in notebook.cells if c.cell_type == "code" for output in c.outputs)
    assert "with the pipeline's config: (20, 20)" in printed, printed[-3000:]
    assert "with a config built by hand: (20, 22)" in printed, printed[-3000:]
    # Section 6, the three paths from objects: refs in hand (two isr outputs, fetched by ref), a task
    # class and its config (the instrument's overrides still apply), a graph inspected then run.
    assert "quanta: 2 in the graph, 2 succeeded, 0 failed, 0 blocked" in printed, printed[-3000:]
    assert "[(20, 20), (20, 20)]" in printed, printed[-3000:]
    assert "6 quanta, to run in u/notebook/bias/" in printed, printed[-3000:]
    assert "isr 5 quanta\ncpBiasCombine 1 quanta" in printed, printed[-3000:]
    assert "True (20, 20)" in printed, printed[-3000:]
    assert len(run_cells) == 4
