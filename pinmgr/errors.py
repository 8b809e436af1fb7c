"""Errors that end a command, one class per seam; the CLI prints ``pinmgr: error: <message>``.

Each carries its exit code so the CLI maps errors to codes in one place and never guesses.
Host collection failures are *not* exceptions: they are ``model.HostFailure`` values.
"""

from __future__ import annotations

from pinmgr.model import Location

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_HOSTS = 3


class PinmgrError(Exception):
    """Base class: a user-facing one-line message and the exit code to leave with."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class VersionError(PinmgrError):
    """A version string the ecosystem's own tool would reject."""


class ProblemsError(PinmgrError):
    """An error standing for every problem found in a file, not just the first.

    ``problems`` holds each one with its location (``pinmgr validate`` lists them all);
    the error itself is the first, so a plain ``except PinmgrError`` still reads well.
    """

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        problems: tuple[PinmgrError, ...] = (),
    ) -> None:
        super().__init__(message, location)
        self.problems = problems or (self,)


class LockfileError(ProblemsError):
    """The lockfile cannot be read, parsed or validated."""


class InventoryError(ProblemsError):
    """An inventory source cannot be read or names something that does not exist."""


class UsageError(PinmgrError):
    """Options that do not fit together, an unknown role or environment, and the like."""


class WriteError(PinmgrError):
    """A file could not be written safely (changed on disk, locked, permission)."""


class HostCollectError(PinmgrError):
    """A command that needs one host's data (``pinmgr lock --from``) could not collect it."""

    exit_code = EXIT_HOSTS
