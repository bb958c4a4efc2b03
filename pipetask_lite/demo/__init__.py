"""A self-contained cpBias demo: a toy camera, two tasks, a pipeline, a repo.

Run ``python -m pipetask_lite.demo REPO`` to build a repository of synthetic
raw bias frames and process it with the classic ``pipetask run`` command line.

The public names are loaded lazily so that ``import pipetask_lite.demo`` does
not pull in the LSST stack.
"""

from __future__ import annotations

__all__ = ["DemoRepo", "make_demo_repo", "pipeline_path"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .repo import DemoRepo, make_demo_repo, pipeline_path


def __getattr__(name: str) -> Any:
    # PEP 562 lazy export: only touch repo.py (and lsst) when asked.
    if name in __all__:
        from . import repo

        return getattr(repo, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
