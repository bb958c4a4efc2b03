"""``python -m pipetask_lite.demo REPO``: build a repo and run cpBias on it."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipetask_lite.demo",
        description=(
            "Create a DemoCam butler repository of synthetic raw biases and run the "
            "classic cpBias 'pipetask run' command line on it."
        ),
    )
    parser.add_argument("repo", metavar="REPO", help="Directory for the new repository.")
    parser.add_argument(
        "--no-run", action="store_true", help="Build the repository and print the command only."
    )
    parser.add_argument(
        "--pipetask",
        metavar="CMD",
        help="Runner command (shell-split), e.g. 'pipetask'. Default: "
        "'<this python> -m pipetask_lite' (pipetask-lite).",
    )
    parser.add_argument("--n-exposures", type=int, default=5, help="Bias exposures to simulate (default 5).")
    parser.add_argument("--n-detectors", type=int, default=3, help="Detectors to simulate, 1-3 (default 3).")
    parser.add_argument("--seed", type=int, default=42, help="Random seed of the raws (default 42).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        Command-line arguments (without the program name).

    Returns
    -------
    status : `int`
        0 on success, otherwise the runner's exit status (or 1).
    """
    options = _parser().parse_args(argv)
    # Deferred: --help should not need the LSST stack.
    from .repo import make_demo_repo
    from .runner import (
        DEFAULT_OUTPUT,
        default_runner,
        describe_collections,
        format_command,
        run_args,
        run_pipetask,
        summarize,
    )

    try:
        repo = make_demo_repo(
            options.repo, n_exposures=options.n_exposures, n_detectors=options.n_detectors, seed=options.seed
        )
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Created repository {repo.root}")
    print(f"  instrument {repo.instrument}, detectors {repo.detectors}")
    print(f"  {len(repo.exposures)} raw biases per detector in {repo.raw_collection}")
    print(f"  defects per detector in {repo.defects_run}, certified in {repo.calib_collection} "
          "(CALIBRATION) for the observing day")

    if options.pipetask:
        runner = shlex.split(options.pipetask)
        shown = options.pipetask
    else:
        runner = default_runner()
        shown = "pipetask-lite"
    args = run_args(repo)
    print("\nRunning:\n  " + format_command([shown, *args]), flush=True)
    if options.no_run:
        return 0

    result = run_pipetask(runner, args)
    if result.returncode != 0:
        print(f"\nerror: runner exited with status {result.returncode}", file=sys.stderr)
        return result.returncode

    print("\nCollections:")
    for name, type_name, children in describe_collections(repo.root):
        suffix = f" -> {', '.join(children)}" if children else ""
        print(f"  {name} [{type_name}]{suffix}")
    print(f"\nDatasets in {DEFAULT_OUTPUT}:")
    for name, count in summarize(repo.root, DEFAULT_OUTPUT).items():
        print(f"  {name:<24} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
