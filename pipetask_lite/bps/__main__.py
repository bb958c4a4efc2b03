"""``python -m pipetask_lite.bps``: print the path of the BPS config fragment.

With ``--include`` it prints the two lines to paste into a submit YAML.
"""

from __future__ import annotations

import sys

from . import CONFIG


def main(argv: list[str] | None = None) -> int:
    """Print the fragment's path (or, with ``--include``, an includeConfigs block)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv in ([], ["--path"]):
        print(CONFIG)
        return 0
    if argv == ["--include"]:
        print(f"includeConfigs:\n  - {CONFIG}")
        return 0
    if argv in (["-h"], ["--help"]):
        print(
            "usage: python -m pipetask_lite.bps [--path | --include]\n\n"
            "Print the path of pipetask-lite's BPS config fragment (--path, the default),\n"
            "or the includeConfigs: block that names it in a BPS submit YAML (--include)."
        )
        return 0
    print(f"python -m pipetask_lite.bps: error: unexpected arguments {argv!r}; see --help", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
