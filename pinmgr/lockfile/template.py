"""The text a new lockfile starts from (``pinmgr init``, ``pinmgr lock`` into a missing file).

The header teaches the format to whoever opens the file first; every command it names works
as written (a test runs them).
"""

from __future__ import annotations

HEADER = """\
# pinmgr lockfile: the package versions each server role must run, per OS release.
#
# Read it as: roles.<role>."<os release>".<ecosystem>.<package> = "<version policy>"
#   role        a name your inventory gives hosts (app, db, ...)
#   os release  ID-VERSION_ID from the host's /etc/os-release: debian-12, ubuntu-22.04, rocky-9
#   ecosystem   deb (dpkg), rpm, or pip (Python packages of the interpreters named in the inventory)
#   policy      "1.2-3"        exact: the installed version must be exactly this
#               "1.2-*"        glob: * matches anything, so security revisions may float
#               ">=1.2, <2"    range: every clause must hold, compared with the ecosystem's ordering
#
# A host gets its role's pins for the OS release it actually runs, plus the [shared] pins for
# that release; a role pin overrides a shared pin for the same package.
# Full reference: docs/lockfile.md. Check it with `pinmgr validate` (or `pinmgr validate FILE`).
#
# Pin more of what a host runs:  pinmgr lock --from HOST --packages nginx,openssl
#                                pinmgr pin nginx=1.22.1-9 --role app --os debian-12
"""


def new_lockfile(comment: str = "") -> str:
    """An empty schema-1 lockfile: the header, ``comment`` lines, ``schema = 1``."""
    extra = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines())
    return f"{HEADER}{'#' + chr(10) + extra if extra else ''}\nschema = 1\n"
