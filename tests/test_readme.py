"""The README's demo is what ``make demo`` runs: its description, its command line and its Python call.

``make demo`` runs ``python -m pipetask_lite.demo demo-repo``; with ``--no-run``
the demo builds its repo and prints what it made and the command it would run.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from harness import env

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def readme_demo_section() -> str:
    """The README's section on the demo: from "The demo (" to the next heading."""
    start = README.index("The demo (`pipetask_lite/demo`)")
    return README[start:README.index("\n## ", start)]


def code_block(text: str, language: str) -> str:
    (block,) = re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    return block


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """What ``make demo``'s command prints with ``--no-run``: the repo it made and the command line."""
    makefile = (ROOT / "Makefile").read_text()
    (recipe,) = re.findall(r"^demo:.*\n(?:\t.*\n)*", makefile, flags=re.MULTILINE)
    assert "\t$(PY) -m pipetask_lite.demo $(DEMO_REPO)\n" in recipe, recipe  # no options: the defaults
    (repo_name,) = re.findall(r"^DEMO_REPO \?= (\S+)$", makefile, flags=re.MULTILINE)
    repo = tmp_path_factory.mktemp("readme") / repo_name
    proc = subprocess.run([sys.executable, "-m", "pipetask_lite.demo", str(repo), "--no-run"], env=env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    command = shlex.split(lines[lines.index("Running:") + 1])
    return {"repo": repo, "repo_name": repo_name, "stdout": proc.stdout, "command": command}


def test_the_readme_command_is_the_demos(demo):
    readme = shlex.split(code_block(readme_demo_section(), "sh").replace("\\\n", " "))
    ran = demo["command"]
    # The demo prints its repo's path and the packaged pipeline's; the README a checkout's relative paths.
    assert readme[readme.index("-b") + 1] == demo["repo_name"]
    ran[ran.index("-b") + 1] = demo["repo_name"]
    p = readme.index("-p") + 1
    assert (ROOT / readme[p]).resolve() == Path(ran[p]).resolve()
    ran[p] = readme[p]
    assert readme == ran


def test_the_readme_python_call_is_the_demo_command(demo):
    (call,) = [node for node in ast.walk(ast.parse(code_block(readme_demo_section(), "python")))
               if isinstance(node, ast.Call) and ast.unparse(node.func) == "pipetask_lite.run"]
    keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    ran = demo["command"]

    def value(option):
        return ran[ran.index(option) + 1]

    assert keywords["input"] == value("-i").split(",")
    assert keywords["output"] == value("-o")
    assert keywords["data_query"] == value("-d")
    assert keywords["pipeline_actions"] == [("instrument", value("--instrument")), ("config", value("-c"))]
    assert keywords["register_dataset_types"] is ("--register-dataset-types" in ran)


def test_the_readme_describes_the_demo_repo(demo):
    text = " ".join(readme_demo_section().split())
    detectors = re.search(r"detectors \[([\d, ]+)\]", demo["stdout"])[1].split(",")
    exposures = int(re.search(r"(\d+) raw biases per detector", demo["stdout"])[1])
    assert f"{NUMBERS[len(detectors)]} detectors with {NUMBERS[exposures]} synthetic raw bias frames each" in text
    assert f"({len(detectors) * exposures} `isr` quanta, {len(detectors)} `cpBiasCombine`)" in text
