"""Shared settings (``[settings]`` of the inventory) as the defaults of the command being run.

click looks for an option's value on the command line, then in its environment variable,
then in the context's ``default_map``, then at the built-in default: exactly the documented
order (docs/settings.md). The group resolves the command, reads the inventory *that command*
will read (``-i``, ``PINMGR_INVENTORY`` or the default, parsed leniently from its arguments),
and hands the settings to click as that command's ``default_map``.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

# typer 0.28 carries its own copy of click (typer._click), older ones use click itself: the
# annotations name only what typer exports.
Command = Any


class SettingsGroup(TyperGroup):
    """The ``pinmgr`` group: commands see the inventory's ``[settings]`` as their defaults."""

    def resolve_command(
        self, ctx: Any, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        # Help and completion need no settings, and must work while they are being fixed.
        asks_help = any(a in ("--help", "-h") for a in rest)
        if name is not None and command is not None and not (ctx.resilient_parsing or asks_help):
            defaults = _defaults(ctx, name, command, rest)
            if defaults:
                ctx.default_map = {**(ctx.default_map or {}), name: defaults}
        return name, command, rest


def _defaults(ctx: Any, name: str, command: Command, args: list[str]) -> dict[str, Any]:
    from pinmgr import settings

    # Parameter -> the variable it reads: a setting reaches the options of its variable.
    variables = {
        p.name: p.envvar
        for p in command.params
        if p.name and isinstance(getattr(p, "envvar", None), str) and p.envvar in settings.VARIABLES
    }
    # Nothing to read for a command that no setting reaches (validate lists the settings'
    # problems itself, all of them).
    if not variables or "inventory" not in {p.name for p in command.params}:
        return {}
    # Only to learn the inventory path: no callback runs, no error is raised here (the real
    # parse that follows reports them).
    probe = command.make_context(name, list(args), parent=ctx, resilient_parsing=True)
    inventory = probe.params.get("inventory")
    if inventory is None:
        return {}
    return settings.read(inventory).defaults(variables)
