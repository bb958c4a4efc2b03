"""The command line as words: parsed, ``-@`` merged in, what was given, and the words back.

Everything that reads a command line as words lives here: parsing it
(`parse`: unknown options named, ``--explain``'s optional value), merging
``-@/--options-file`` (`merge_options_file`), the one test of whether an
option was given (`given`, and `typed_options` for what was typed rather
than taken from ``-@``), rebuilding a command line from the parsed options
(`command_line` and `resume_command` for the process, `shown_command_line`
for ``--explain``'s header), and the map between options and keywords
(`keyword_options`).  The parser itself comes from the caller
(`pipetask_lite.cli.build_parser`), so this module imports neither ``cli``
nor the explain modules, which both use it.

argparse has no public way to list a parser's actions or to tell an
``append``/``extend`` option but by the action's class; `options_of` and
`takes_many` (and `shown_values`, for ``extend``) are the only places that
read argparse's private names.
"""

from __future__ import annotations

__all__ = (
    "command_line", "flag", "given", "keyword_options", "merge_options_file", "options_of", "parse", "quote",
    "resume_command", "shown_command_line", "shown_options", "shown_values", "shown_words", "subcommand_parser",
    "takes_many", "typed_options", "wrap_command",
)

import argparse
import shlex
from collections.abc import Callable, Sequence

from .actions import ACTIONS, action_text

NOT_OPTIONS = ("help", "options_file", "subcommand")
"""Dests that are not options of the command (``-h``, ``-@`` once merged, the subcommand itself)."""


def options_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The actions of ``parser``, in the order they were added (positionals included).

    argparse keeps them only in the private ``_actions``; there is no public
    accessor, so every reader of a parser's options goes through here.
    """
    return list(parser._actions)


def takes_many(action: argparse.Action) -> bool:
    """Whether the option collects a list (``action="append"`` or ``"extend"``).

    Only the action's class says so, and argparse names those classes
    privately.
    """
    return isinstance(action, (argparse._AppendAction, argparse._ExtendAction))


# ---------------------------------------------------------------------------
# Was it given?
# ---------------------------------------------------------------------------


def given(action: argparse.Action, value) -> bool:
    """Whether an option's parsed ``value`` was given (on the command line or by ``-@``).

    It was if the value differs from the option's default; an ``append``
    option with no default holds ``[]`` when not given.
    """
    if action.dest == "pipeline_actions":
        return bool(value)
    default = [] if takes_many(action) and action.default is None else action.default
    return value != default


def typed_options(parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
                  argv: Sequence[str]) -> set[str]:
    """Return the keywords (dests) of the options typed on the command line itself (not from ``-@``).

    An option typed with its default value counts, as in Click, where ``-@``
    values are defaults that anything typed overrides.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        A fresh top-level parser, used for this one parse and then dropped:
        its subcommand's defaults are suppressed, so only what was typed is
        left in the namespace.
    subparser : `argparse.ArgumentParser`
        Its parser of the subcommand in ``argv``.
    argv : `~collections.abc.Sequence` [`str`]
        The command line, without the program name.
    """
    for action in options_of(subparser):
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


# ---------------------------------------------------------------------------
# Parsing: the words in order, unknown options named, -@ merged.
# ---------------------------------------------------------------------------


def parse(parser: argparse.ArgumentParser, words: list[str], *,
          fresh: Callable[[], argparse.ArgumentParser]) -> argparse.Namespace:
    """Parse a command line with ``parser`` and merge its ``-@`` file (`pipetask_lite.cli.parse_args` checks the rest).

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        A parser from `pipetask_lite.cli.build_parser`.
    words : `list` [`str`]
        The command line, without the program name.
    fresh : `~collections.abc.Callable`
        Makes another such parser (`typed_options` uses one up).

    Raises
    ------
    SystemExit
        With code 2 and a one-line message, for a usage error.
    """
    commands = _subcommands(parser)
    words = _bare_explain(parser, words, commands)
    known = {opt for action in options_of(parser) for opt in action.option_strings}
    for word in words[:next((i for i, w in enumerate(words) if w in commands), len(words))]:
        # Before the subcommand, an unknown option would be taken for one
        # that takes the next word as its value.
        if word.startswith("--") and word.partition("=")[0] not in known:
            parser.error(f"unrecognized arguments: {word}{_did_you_mean(word, parser)}")
    args, unknown = parser.parse_known_args(words)
    subparser = subcommand_parser(parser, args.subcommand)
    if unknown:
        if unknown[0].partition("=")[0] in known:
            # A global option (--explain, --long-log, ...) after the subcommand, as
            # Click also refuses it; say where it goes.
            subparser.error(f"{unknown[0].partition('=')[0]} is an option of {parser.prog} itself: "
                            f"give it before '{args.subcommand}'")
        subparser.error(f"unrecognized arguments: {' '.join(unknown)}{_did_you_mean(unknown[0], parser, subparser)}")
    if getattr(args, "options_file", None):  # build, qgraph and run have -@
        other = fresh()  # for typed_options alone: it suppresses this parser's defaults
        typed = typed_options(other, subcommand_parser(other, args.subcommand), words)
        merge_options_file(subparser, args, args.subcommand, typed=typed)
    if hasattr(args, "pipeline_actions"):
        args.pipeline_actions = args.pipeline_actions or []
    return args


def _bare_explain(parser: argparse.ArgumentParser, words: list[str], subcommands: Sequence[str]) -> list[str]:
    """``--explain`` without a value, spelled ``--explain=short``.

    argparse would take the word after a bare ``--explain`` (the subcommand,
    usually) for its optional value; only a depth is one.
    """
    (depths,) = [action.choices for action in options_of(parser) if action.dest == "explain"]
    end = next((i for i, w in enumerate(words) if w in subcommands), len(words))
    return [
        "--explain=short" if word == "--explain" and (i + 1 >= len(words) or words[i + 1] not in depths)
        else word
        for i, word in enumerate(words[:end])
    ] + words[end:]


def _did_you_mean(word: str, *parsers: argparse.ArgumentParser) -> str:
    """`` (did you mean --x?)`` for an unknown option close to known ones, as Click says it."""
    import difflib

    if not word.startswith("--"):
        return ""
    known = [opt for parser in parsers for action in options_of(parser) for opt in action.option_strings
             if opt.startswith("--")]
    close = difflib.get_close_matches(word.partition("=")[0], known, n=3, cutoff=0.6)
    close += [opt for opt in known if opt.startswith(word.partition("=")[0]) and opt not in close]
    return f" (did you mean {' or '.join(close[:3])}?)" if close else ""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser of each subcommand (the ``choices`` of the parser's subcommand action)."""
    return next(action.choices for action in options_of(parser) if action.dest == "subcommand")


def subcommand_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """Return the parser of subcommand ``name`` of a parser from `pipetask_lite.cli.build_parser`."""
    return _subcommands(parser)[name]


# ---------------------------------------------------------------------------
# -@/--options-file
# ---------------------------------------------------------------------------


def merge_options_file(
    parser: argparse.ArgumentParser, args: argparse.Namespace, subcommand: str, *, typed: set[str]
) -> None:
    """Apply ``-@/--options-file`` the way pipetask does: file values are defaults.

    The YAML holds ``{subcommand: {option: value}}``, options spelled as on the
    command line without dashes (``butler-config``, ``b``, ``input``).  A value
    typed on the command line wins.  Each value is converted by the option's
    own type and choices; flags are read as Click reads them (``'no'`` is
    false).  Pipeline actions (``config``, ``task``, ...) from the file go
    before those of the command line; pipetask drops them silently.  A single
    value is accepted where a list is expected.  The merged options then go
    through the same checks as a command line (`pipetask_lite.cli.check_options`).

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The subcommand's parser, whose actions define the option names.
    args : `argparse.Namespace`
        Parsed command line; updated in place.
    subcommand : `str`
        Top-level key to read from the file.
    typed : `set` [`str`]
        Keywords of the options typed on the command line (`typed_options`);
        the file does not override them.
    """
    import yaml

    try:
        with open(args.options_file) as stream:
            content = yaml.safe_load(stream) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: a path with a NUL byte
        parser.error(f"-@/--options-file: cannot read {args.options_file!r}: {exc}")
    if not isinstance(content, dict):
        parser.error(f"-@/--options-file: {args.options_file!r} is not a YAML mapping")
    by_name = {opt.lstrip("-"): action for action in options_of(parser) for opt in action.option_strings}
    section = content.get(subcommand) or {}
    if not isinstance(section, dict):
        parser.error(f"-@/--options-file: '{subcommand}' in {args.options_file!r} is not a mapping of options")
    file_actions = []
    for name, value in section.items():
        action = by_name.get(str(name))
        if action is None or action.dest in ("help", "options_file"):
            parser.error(f"-@/--options-file: {name!r} is not an option of '{subcommand}'")
        values = value if isinstance(value, list) else [value]
        many = action.dest == "pipeline_actions" or takes_many(action)
        if any(v is None or isinstance(v, (dict, list)) for v in values) or (isinstance(value, list) and not many):
            parser.error(f"-@/--options-file: {name}: {value!r} is not "
                         + ("a value or a list of values" if many else "one value"))
        if action.dest == "pipeline_actions":
            file_actions.extend(_convert(parser, action, name, str(v)) for v in values)
        elif action.dest not in typed:
            if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
                setattr(args, action.dest, _flag(parser, name, value))
            elif takes_many(action):
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


# ---------------------------------------------------------------------------
# The words back: for the process (resume command) and for --explain.
# ---------------------------------------------------------------------------


def command_line(parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
                 args: argparse.Namespace) -> list[str]:
    """The command line (without the program name) that parses back to ``args``, with no ``-@``.

    Built from the parsed options, the options file already merged in: every
    option `given`, as typed in the classic command lines (``-i VALUE``;
    ``--input=VALUE`` for a value starting with ``-``, so that it stays a
    value), pipeline actions in their order, then positional arguments.

    Parameters
    ----------
    parser, subparser : `argparse.ArgumentParser`
        The top-level parser and its parser of ``args.subcommand``.
    args : `argparse.Namespace`
        The parsed command line.
    """
    return [*_option_words(parser, args), args.subcommand, *_option_words(subparser, args)]


def resume_command(parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
                   args: argparse.Namespace, *, output_run: str, cut: bool) -> str:
    """The command line that finishes an interrupted run: the same options, extending its run.

    Built from the parsed options with ``-@`` merged in, so it repeats exactly
    what this run used: ``--replace-run`` and ``--prune-replaced`` are dropped
    (the new run is the one to extend; replacing again would remove it),
    ``--output-run`` names the run, and ``--extend-run --skip-existing`` (plus
    ``--clobber-outputs`` if quanta were cut short) are added.
    """
    resumed = argparse.Namespace(**vars(args))
    resumed.replace_run, resumed.prune_replaced = False, None
    resumed.output_run, resumed.extend_run, resumed.skip_existing = output_run, True, True
    resumed.clobber_outputs = args.clobber_outputs or cut
    return shlex.join([parser.prog, *command_line(parser, subparser, resumed)])


def _option_words(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The words of `command_line` for the options (and positionals) of one parser."""
    words: list[str] = []
    positionals: list[str] = []
    # -b -i -o --output-run first, as in the classic command lines.
    first = ("butler_config", "input", "output", "output_run")
    actions_written = False  # the kinds of pipeline action share one list: write it once
    for action in sorted(options_of(parser), key=lambda action: action.dest not in first):
        if action.dest in NOT_OPTIONS:
            continue
        value = getattr(args, action.dest, action.default)
        if not action.option_strings:
            positionals += value if isinstance(value, list) else [value]
            continue
        if action.dest == "pipeline_actions":
            for item in [] if actions_written else value or []:
                words += _option_value(ACTIONS[item.option].flags, action_text(item))
            actions_written = True
            continue
        if not given(action, value):
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            words.append(action.option_strings[0] if value else action.option_strings[1])
        elif action.nargs == 0:
            words.append(action.option_strings[0])
        elif takes_many(action):
            for item in value:
                words += _option_value(action.option_strings, _word(item))
        else:
            words += _option_value(action.option_strings, str(value))
    return words + (["--", *positionals] if positionals else [])


def _option_value(option_strings: Sequence[str], value: str) -> list[str]:
    """``[-x, VALUE]``, or ``[--long=VALUE]`` when the value would look like an option."""
    return [f"{option_strings[-1]}={value}"] if value.startswith("-") else [option_strings[0], value]


def _word(item) -> str:
    """One value of a list option: ``COMPONENT=LEVEL`` and ``KEY=VALUE`` pairs are tuples once parsed."""
    if isinstance(item, tuple):
        key, value = item
        return f"{key}={value}" if key is not None else value
    return str(item)


def flag(action: argparse.Action, value) -> str:
    """The option's name as ``--explain`` shows it: its first spelling, or ``--no-X`` for a false ``--[no-]X``."""
    if isinstance(action, argparse.BooleanOptionalAction) and not value:
        return next(s for s in action.option_strings if s.startswith("--no-"))
    return action.option_strings[0]


def shown_options(parser: argparse.ArgumentParser,
                  subparser: argparse.ArgumentParser) -> tuple[dict[str, argparse.Action], list[str], list[str]]:
    """The options ``--explain`` shows: each by its dest, and the dests before and after the subcommand.

    ``--explain`` itself is not one of them: the script is what it prints.
    """
    actions: dict[str, argparse.Action] = {}
    global_dests: list[str] = []
    sub_dests: list[str] = []
    for target, dests in ((parser, global_dests), (subparser, sub_dests)):
        for action in options_of(target):
            if not action.option_strings or action.dest in ("help", "explain") or action.dest in actions:
                continue
            actions[action.dest] = action
            dests.append(action.dest)
    return actions, global_dests, sub_dests


def shown_command_line(parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
                       args: argparse.Namespace) -> list[str]:
    """The whole command line as ``--explain`` shows it: one shell word per option given (`shown_words`)."""
    actions, global_dests, sub_dests = shown_options(parser, subparser)
    words = [parser.prog]
    for dest in global_dests:
        words += shown_words(actions[dest], getattr(args, dest))
    words.append(args.subcommand)
    for dest in sub_dests:
        words += shown_words(actions[dest], getattr(args, dest))
    return words


def shown_values(action: argparse.Action, value) -> list[str]:
    """The option's value(s) as ``--explain`` shows them: one per repetition, lists comma-joined."""
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
        return []
    if action.nargs == "?" and value == action.const:
        return []
    if action.dest == "log_level":
        return [",".join(f"{c}={level}" if c else level for c, level in value)]
    if action.dest == "log_label":
        return [",".join(f"{k}={v}" for k, v in value)]
    if isinstance(action, argparse._ExtendAction):  # see takes_many: no public name for the class
        return [",".join(map(str, value))]
    if takes_many(action):
        return [str(v) for v in value]
    return [str(value)]


def shown_words(action: argparse.Action, value) -> list[str]:
    """The option (if `given`) as ``--explain``'s header shows it: each flag with its value, quoted."""
    if not given(action, value):
        return []
    if action.dest == "pipeline_actions":
        return [f"{ACTIONS[item.option].flags[0]} {quote(action_text(item))}" for item in value]
    values = shown_values(action, value)
    if not values:
        return [flag(action, value)]
    return [f"{flag(action, value)} {quote(text)}" for text in values]


def quote(token: str) -> str:
    """Quote for the shell, preferring "..." to the '"'"' dance when the text holds a quote."""
    quoted = shlex.quote(token)
    if quoted != token and "'" in token and not any(c in token for c in '"$`\\!\n'):
        return f'"{token}"'
    return quoted


def wrap_command(words: list[str], width: int = 84) -> list[str]:
    """Split a long command line into shell continuation lines, between options."""
    lines, current = [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current + " \\")
            current = "    " + word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return lines


# ---------------------------------------------------------------------------
# Options and keywords.
# ---------------------------------------------------------------------------


def keyword_options(parser: argparse.ArgumentParser) -> dict[str, tuple[str, ...]]:
    """Each keyword (dest) of a subcommand's options -> its spellings (``("-i", "--input")``).

    ``pipeline_actions`` is not in it: each kind of action has its own
    spellings (`pipetask_lite.actions.ACTIONS`).
    """
    return {action.dest: tuple(action.option_strings) for action in options_of(parser)
            if action.option_strings and action.dest not in ("help", "pipeline_actions")}
