"""A Puppet module from the lockfile: one class per role installing its exact pins.

Layout (``puppet apply --modulepath DIR -e 'include pinmgr::web'``; see
docs/cm-tools-puppet.part.md)::

    pinmgr/functions/os_release.pp   pinmgr::os_release(): the host's release key from facts
    pinmgr/manifests/<class>.pp      class pinmgr::<class> per role

Each class selects the branch of the host's OS release with a ``case`` on a release key built
from facts as pinmgr builds it from /etc/os-release (``debian-12``, ``ubuntu-22.04``,
``rocky-9``); a branch matches the key or any longer dotted one (``rocky-9`` takes 9.3), most
specific first, as ``pinmgr check`` picks a table. An undeclared release ``fail()``s: a host
pinmgr would report ``unsupported-os`` must not converge to "nothing to do".

Exact deb/rpm pins are ``package { NAME: ensure => VERSION }``; pip pins use the ``pip3``
provider. Glob and range pins name no single version and are comments, not resources.
Every name and version is a single-quoted Puppet string (only ``\\\\`` and ``\\'`` are escapes
there, so no ``$var`` or ``${expr}`` is ever evaluated); text no package can hold (control
characters) is refused, naming the pin.

Pure: same lockfile, same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

from pinmgr.emitters._files import changed, globbed, orphans
from pinmgr.emitters._text import comment, installable
from pinmgr.errors import UsageError
from pinmgr.lockfile.load import OS_RELEASE_RE
from pinmgr.model import SHARED_ROLE, Ecosystem, Lockfile, Pin, PolicyKind, assert_never
from pinmgr.versions.text import MAX_NAME_CHARS, MAX_VERSION_CHARS, problem

MODULE = "pinmgr"
FUNCTION_PATH = f"{MODULE}/functions/os_release.pp"

# Puppet's reserved words (docs: "Reserved words and acceptable names"), plus the class names
# Puppet keeps for itself and ``init``, whose file (manifests/init.pp) belongs to class pinmgr.
RESERVED = frozenset(
    [
        "and",
        "application",
        "attr",
        "case",
        "component",
        "consumes",
        "default",
        "define",
        "elsif",
        "environment",
        "false",
        "function",
        "if",
        "import",
        "in",
        "inherits",
        "node",
        "or",
        "private",
        "produces",
        "regexp",
        "site",
        "true",
        "type",
        "undef",
        "unit",
        "unless",
        "main",
        "settings",
        "init",
    ]
)
_CLASS_SEGMENT = re.compile(r"[a-z][a-z0-9_]*")

# os.name (lowercased) -> the os-release ID pinmgr keys releases by, where they differ.
# Facter 4 takes os.name from the first word(s) of os-release NAME (facter/resolvers/os_release.rb).
FACTER_NAME_TO_ID = {
    "redhat": "rhel",
    "oraclelinux": "ol",
    "amazon": "amzn",
    "opensuse": "opensuse-leap",
}


def puppet_str(value: str) -> str:
    """A single-quoted Puppet string reading back as ``value``: no interpolation, no escape
    but ``\\\\`` and ``\\'`` (the only two Puppet interprets inside single quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def class_name(role: str) -> str:
    """The class segment for ``role``: lowercase, ``-`` and ``.`` as ``_`` (``web-1`` ->
    ``web_1``); a role that cannot become one is refused, naming it."""
    name = role.lower().replace("-", "_").replace(".", "_")
    if not _CLASS_SEGMENT.fullmatch(name):
        raise UsageError(
            f"role {role!r} cannot be a Puppet class name (pinmgr::{name}): a class name "
            "starts with a letter and holds only letters, digits, '_', '-' or '.'; rename the role"
        )
    if name in RESERVED:
        raise UsageError(
            f"role {role!r} cannot be a Puppet class name: {name!r} is reserved in Puppet; "
            "rename the role"
        )
    return name


def manifest_path(role: str) -> str:
    return f"{MODULE}/manifests/{class_name(role)}.pp"


def emit_puppet_manifest(lockfile: Lockfile, digest: str, *, hold: bool) -> dict[str, str]:
    """``{relative path: text}``: the release function and one manifest per role.

    ``digest`` is the sha256 of the lockfile's text, named in every header (stale-file checks).
    ``hold`` adds ``mark => hold`` to deb packages (apt/dpkg only: dnf has no hold in Puppet).
    """
    roles = sorted(r for r in lockfile.roles if r != SHARED_ROLE)
    owners: dict[str, str] = {}
    files = {FUNCTION_PATH: _function(lockfile, digest)}
    for role in roles:
        path = manifest_path(role)
        if path in files:
            raise UsageError(
                f"roles {owners[path]!r} and {role!r} both become Puppet class "
                f"{MODULE}::{class_name(role)}; rename one"
            )
        owners[path] = role
        files[path] = _manifest(lockfile, role, digest, hold=hold)
    return files


def _header(lockfile: Lockfile, digest: str) -> list[str]:
    return [
        # Two lines: puppet-lint warns about lines over 140 characters.
        comment(f"Generated by pinmgr from {lockfile.path}"),
        comment(f"(sha256 {digest}). Do not edit: run `pinmgr emit puppet-manifest`."),
    ]


def _function(lockfile: Lockfile, digest: str) -> str:
    width = max(len(puppet_str(name)) for name in [*FACTER_NAME_TO_ID, "default"])
    mapping = [
        f"    {puppet_str(name).ljust(width)} => {puppet_str(os_id)},"
        for name, os_id in sorted(FACTER_NAME_TO_ID.items())
    ]
    lines = [
        *_header(lockfile, digest),
        "#",
        "# The host's OS release as pinmgr names it (ID-VERSION_ID of /etc/os-release), from",
        "# facts: os.name mapped to the os-release ID, then os.release.major on Debian (its",
        "# full is /etc/debian_version, 12.11) and os.release.full elsewhere (ubuntu 22.04,",
        "# rocky 9.3). The classes match a lockfile release and any longer dotted one.",
        f"function {MODULE}::os_release() >> String {{",
        "  $os_name = downcase(String($facts.dig('os', 'name')))",
        "  $id = $os_name ? {",
        *mapping,
        f"    {'default'.ljust(width)} => $os_name,",
        "  }",
        "  $version = $id ? {",
        "    'debian' => String($facts.dig('os', 'release', 'major')),",
        "    default  => String($facts.dig('os', 'release', 'full')),",
        "  }",
        '  "${id}-${version}"',
        "}",
    ]
    return "\n".join(lines) + "\n"


def _release_regex(release: str) -> str:
    """``/\\Arocky-9(\\.|\\z)/``: the release or any longer dotted one (9.3), nothing else."""
    if not OS_RELEASE_RE.fullmatch(release):
        raise UsageError(f"{release!r} is not an OS release key (ID-VERSION_ID, like debian-12)")
    return "/\\A" + release.replace(".", "\\.") + "(\\.|\\z)/"


def _specificity(release: str) -> tuple[str, int, str]:
    """Sort key: by OS, then more dotted parts first (rocky-9.3 before rocky-9): a ``case``
    takes the first branch that matches."""
    os_id, _, version = release.rpartition("-")
    return (os_id, -version.count("."), version)


def _manifest(lockfile: Lockfile, role: str, digest: str, *, hold: bool) -> str:
    cls = f"{MODULE}::{class_name(role)}"
    releases = sorted(lockfile.releases_for(role), key=_specificity)
    lines = [
        *_header(lockfile, digest),
        comment(f"Role {role}: shared pins merged in, a role pin overrides a shared one."),
        comment("Exact pins are installed; glob and range pins are comments, not enforced"),
        comment("(`pinmgr check` still checks them)."),
        comment(
            "os_release: the lockfile release to apply; the default reads facts "
            f"({MODULE}::os_release)."
        ),
        f"class {cls} (",
        f"  String $os_release = {MODULE}::os_release(),",
        ") {",
        "  case $os_release {",
    ]
    for release in releases:
        body = _branch(lockfile.pins_for(role, release), hold=hold)
        lines.append(f"    {_release_regex(release)}: {{")
        lines += [f"      {line}" if line else "" for line in body]
        lines.append("    }")
    declared = ", ".join(puppet_str(r) for r in sorted(releases))
    message = _puppet_dq(
        [
            f"{cls}: OS release ",
            "${os_release}",
            f" is not declared for role {role} (declared: ",
            "${declared.join(', ')}",
            ")",
        ]
    )
    lines += [
        "    default: {",
        f"      $declared = [{declared}]",
        f"      fail({message})",
        "    }",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _puppet_dq(parts: list[str]) -> str:
    """A double-quoted Puppet string: parts at odd indexes are interpolations, kept as they are;
    in the others every ``$``, ``"`` and ``\\`` is escaped."""
    out = [
        part if i % 2 else part.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        for i, part in enumerate(parts)
    ]
    return '"' + "".join(out) + '"'


def _branch(pins: tuple[Pin, ...], *, hold: bool) -> list[str]:
    lines: list[str] = []
    if hold and any(p.ecosystem is Ecosystem.RPM for p in pins):
        lines.append(
            comment(
                "--hold: Puppet's dnf/yum provider cannot hold (no `mark`); "
                "lock rpm pins with `pinmgr emit dnf-versionlock`."
            )
        )
    for pin in pins:
        _refuse_unprintable(pin)
        match pin.policy.kind:
            case PolicyKind.GLOB | PolicyKind.RANGE:
                lines.append(
                    comment(
                        f"{pin.ecosystem.value} {pin.package}: {pin.policy.kind.value} pin "
                        f"{pin.spec!r} not enforced (no single version to install)"
                    )
                )
                continue
            case PolicyKind.EXACT:
                pass
            case _:
                assert_never(pin.policy.kind)
        match pin.ecosystem:
            case Ecosystem.DEB:
                attrs = [("ensure", puppet_str(pin.spec))]
                if hold:
                    attrs.append(("mark", "'hold'"))
                lines += _resource(pin.package, attrs)
            case Ecosystem.RPM:
                lines += _resource(pin.package, [("ensure", puppet_str(_rpm_ensure(pin.spec)))])
            case Ecosystem.PIP:
                attrs = [
                    ("ensure", puppet_str(installable(pin.ecosystem, pin.spec))),
                    ("name", puppet_str(pin.package)),
                    ("provider", "'pip3'"),
                ]
                lines += _resource(f"pip3:{pin.package}", attrs)
            case Ecosystem.APP:
                continue
            case _:
                assert_never(pin.ecosystem)
    return lines or [comment("No pins for this role on this release.")]


def _resource(title: str, attrs: list[tuple[str, str]]) -> list[str]:
    width = max(len(key) for key, _ in attrs)
    return [
        f"package {{ {puppet_str(title)}:",
        *(f"  {key.ljust(width)} => {value}," for key, value in attrs),
        "}",
    ]


_EPOCH = re.compile(r"([0-9]+):(.*)", re.S)


def _rpm_ensure(spec: str) -> str:
    """The EVR as Puppet's rpm/dnf/yum providers report it: ``E:V-R`` with the epoch only when
    non-zero (``0:5.1-1`` would never equal the installed ``5.1-1`` and reinstall every run)."""
    m = _EPOCH.fullmatch(spec)
    if m is None:
        return spec
    epoch = m.group(1).lstrip("0")
    return f"{epoch}:{m.group(2)}" if epoch else m.group(2)


def _refuse_unprintable(pin: Pin) -> None:
    """Names and versions holding what no package can (control characters) are refused."""
    reason = problem(pin.package, MAX_NAME_CHARS)
    what = "package name"
    if reason is None:
        reason, what = problem(pin.spec, MAX_VERSION_CHARS), "pin"
    if reason is not None:
        where = f"{pin.location}: " if pin.location else ""
        raise UsageError(
            f"{where}{pin.role}/{pin.os_release} {pin.ecosystem.value} {pin.package!r}: "
            f"{what} {reason}; no Puppet manifest written"
        )


def check(expected: dict[str, str], out_dir: str | Path) -> list[str]:
    """For ``--check``: relative paths under ``out_dir`` missing, stale, or orphaned (a ``.pp``
    file beside the expected ones, first line pinmgr's header: a role no longer locked)."""
    root = Path(out_dir)
    folders = [(root / rel).parent for rel in expected]
    return sorted(changed(expected, root) | orphans(expected, root, globbed(folders, "*.pp")))
