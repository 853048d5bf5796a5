"""Library messages in the words of the command line.

The library names its parameters (``tile_size=8: must be an integer >= 16``, ``pass
overwrite=True to replace it``, ``choose bands with bands=...``); a command's options
carry the same names, so at the edge each ``name=value`` of one of the command's
options becomes the flag as typed (``--tile-size 8``, ``--overwrite``, ``--bands``).
Anything else in the message is left as it is.
"""

from __future__ import annotations

import re

import click

#: ``name=value`` at the start of a word: the value is a parenthesised or bracketed
#: list, a quoted string, ``...`` or anything up to a space (a trailing ``:``, ``;``,
#: ``,`` or ``)`` is punctuation, not value).
_ASSIGNMENT = re.compile(
    r"(?<![^\s(])(?P<name>[a-z][a-z0-9_]*)="
    r"(?P<value>\([^()]*\)|\[[^\[\]]*\]|'[^']*'|\"[^\"]*\"|\.\.\.|\S+?)"
    r"(?=[:;,)]?(?:\s|$))"
)


def option_flags(command: click.Command | None) -> dict[str, click.Option]:
    """The options of ``command`` by parameter name."""
    if command is None:
        return {}
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name}


def to_cli(message: str, command: click.Command | None) -> str:
    """``message`` with the parameters of ``command`` written as its flags."""
    options = option_flags(command)
    if not options:
        return message

    def flag(match: re.Match[str]) -> str:
        option = options.get(match["name"])
        if option is None:
            return match[0]
        longest = max(option.opts, key=len)
        value = match["value"]
        if value == "...":
            return longest
        if option.is_flag and value in ("True", "False"):
            if value == "True":
                return longest
            return option.secondary_opts[-1] if option.secondary_opts else match[0]
        if value[0] in "([" and value[-1] in ")]":
            value = ",".join(v.strip() for v in value[1:-1].split(",") if v.strip())
        elif value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]
        return f"{longest} {value}"

    return _ASSIGNMENT.sub(flag, message)
