"""``-@/--options-file``: options from a YAML file, read as pipetask reads them.

pipetask's ``-@ FILE`` holds ``{subcommand: {option: value}}``; each value
becomes the option's default, so the command line wins, and it is converted
by the option's own type and choices.  Click reads the values of flags its
own way (``'no'`` is false); `merge_options_file` does the same.  The merged
options then go through the same checks as a command line
(`pipetask_lite.cli.check_options`).
"""

from __future__ import annotations

__all__ = ("given_options", "merge_options_file")

import argparse
from collections.abc import Sequence


def given_options(parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
                  argv: Sequence[str] | None) -> set[str]:
    """Return the keywords (dests) of the options given on the command line itself.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        A fresh top-level parser, used for this one parse.
    subparser : `argparse.ArgumentParser`
        Its parser of the subcommand in ``argv``.
    argv : `~collections.abc.Sequence` [`str`] or `None`
        The command line, without the program name.
    """
    # Parse once more with every default suppressed: only what was typed is
    # left.  The option declarations are shared between subcommands, so the
    # defaults are put back afterwards.
    actions = subparser._actions
    defaults = [action.default for action in actions]
    try:
        for action in actions:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for action, default in zip(actions, defaults):
            action.default = default


def merge_options_file(
    parser: argparse.ArgumentParser, args: argparse.Namespace, subcommand: str, *, given: set[str]
) -> None:
    """Apply ``-@/--options-file`` the way pipetask does: file values are defaults.

    The YAML holds ``{subcommand: {option: value}}``, options spelled as on the
    command line without dashes (``butler-config``, ``b``, ``input``).  A value
    given on the command line wins.  Pipeline actions (``config``, ``task``,
    ...) from the file go before those of the command line; pipetask drops
    them silently.  A single value is accepted where a list is expected.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The subcommand's parser, whose actions define the option names.
    args : `argparse.Namespace`
        Parsed command line; updated in place.
    subcommand : `str`
        Top-level key to read from the file.
    given : `set` [`str`]
        Keywords of the options given on the command line; the file does not
        override them.
    """
    import yaml

    try:
        with open(args.options_file) as stream:
            content = yaml.safe_load(stream) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: a path with a NUL byte
        parser.error(f"-@/--options-file: cannot read {args.options_file!r}: {exc}")
    if not isinstance(content, dict):
        parser.error(f"-@/--options-file: {args.options_file!r} is not a YAML mapping")
    by_name = {opt.lstrip("-"): action for action in parser._actions for opt in action.option_strings}
    section = content.get(subcommand) or {}
    if not isinstance(section, dict):
        parser.error(f"-@/--options-file: '{subcommand}' in {args.options_file!r} is not a mapping of options")
    file_actions = []
    for name, value in section.items():
        action = by_name.get(str(name))
        if action is None or action.dest in ("help", "options_file"):
            parser.error(f"-@/--options-file: {name!r} is not an option of '{subcommand}'")
        values = value if isinstance(value, list) else [value]
        many = action.dest == "pipeline_actions" or isinstance(action, (argparse._AppendAction, argparse._ExtendAction))
        if any(v is None or isinstance(v, (dict, list)) for v in values) or (isinstance(value, list) and not many):
            parser.error(f"-@/--options-file: {name}: {value!r} is not "
                         + ("a value or a list of values" if many else "one value"))
        if action.dest == "pipeline_actions":
            file_actions.extend(_convert(parser, action, name, str(v)) for v in values)
        elif action.dest not in given:
            if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
                setattr(args, action.dest, _flag(parser, name, value))
            elif isinstance(action, (argparse._AppendAction, argparse._ExtendAction)):
                converted = [_convert(parser, action, name, str(v)) for v in values]
                flat = [x for c in converted for x in (c if isinstance(c, list) else [c])]
                setattr(args, action.dest, flat)
            else:
                setattr(args, action.dest, _convert(parser, action, name, str(value)))
    flat_actions = [x for a in file_actions for x in (a if isinstance(a, list) else [a])]
    args.pipeline_actions = flat_actions + (args.pipeline_actions or [])


def _flag(parser: argparse.ArgumentParser, name: str, value) -> bool:
    """An options-file value for a flag, read as Click reads it (``bool("no")`` would be `True`)."""
    text = str(value).strip().lower()
    if isinstance(value, bool) or text in ("1", "0"):
        return text in ("true", "1")
    if text in ("true", "t", "yes", "y", "on"):
        return True
    if text in ("false", "f", "no", "n", "off"):
        return False
    parser.error(f"-@/--options-file: {name}: {value!r} is not true or false")


def _convert(parser: argparse.ArgumentParser, action: argparse.Action, name: str, text: str):
    """Convert one options-file value with the option's own type and choices."""
    try:
        value = action.type(text) if action.type else text
    except argparse.ArgumentTypeError as exc:
        parser.error(f"-@/--options-file: {name}: {exc}")
    if action.choices is not None and value not in action.choices:
        parser.error(f"-@/--options-file: {name}: {value!r} is not one of {', '.join(action.choices)}")
    return value
