"""An Ansible playbook that puts drifted hosts back on their exact pins.

Hosts that need exactly the same fixes share one play (fleet-wide drift of one package is one
play that Ansible runs on all those hosts in parallel); every other host gets a play of its own,
so a host only ever receives its own fixes. Plays name hosts by their pinmgr inventory name:
the Ansible inventory must use the same names (pinmgr can read an Ansible inventory, which
keeps them equal).

What is installed: with ``drift_only``, the DRIFT and MISSING findings of exact pins (only
hosts with something to fix get a play); without it, every exact pin of every collected host,
OK ones included (a full converge: already-right packages are no-ops for apt/dnf/pip). WAIVED
findings are never touched (the drift was accepted). Glob and range pins name no single
version, so drifted or missing ones are listed in the header as "not fixed" instead of
guessing one; so are pip packages missing from every interpreter of a host (which one should
get it is unknown) and packages that two roles of one host pin differently.

Pure: same report and lockfile give byte-identical text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from pinmgr.emitters._text import comment, installable, yaml_str
from pinmgr.model import (
    CheckReport,
    Ecosystem,
    Finding,
    FindingKind,
    Lockfile,
    PackageState,
    Pin,
    PolicyKind,
    assert_never,
)
from pinmgr.versions.names import split_arch

PLAYBOOK_PATH = "fix.yml"
"""Key of the one file ``emit_playbook`` returns (the CLI writes it where ``--out`` says)."""

_PYTHON = re.compile(r"python[0-9.]*")
_STATE_PREFIXES = tuple(f"{s.value}; " for s in PackageState)


@dataclass(frozen=True, order=True)
class PipTarget:
    """Where a pip fix goes: a virtualenv directory, or the pip script of an interpreter."""

    option: str  # "virtualenv" or "executable" (ansible.builtin.pip options)
    path: str


def pip_target(origin: str) -> PipTarget:
    """The pip module option for an inventory pip entry (interpreter path or virtualenv dir).

    An interpreter ``<dir>/python3.11`` is fixed with the pip script beside it
    (``<dir>/pip3.11``): ansible.builtin.pip runs ``executable`` as pip, and that script
    installs into its own interpreter. Anything else is a virtualenv directory.
    """
    path = PurePosixPath(origin)
    if _PYTHON.fullmatch(path.name):
        return PipTarget("executable", str(path.with_name("pip" + path.name[len("python") :])))
    return PipTarget("virtualenv", origin)


_Key = tuple[str, Ecosystem, PipTarget | None, str]
"""(host, ecosystem, pip target or None, package as the finding names it)."""


@dataclass
class HostFixes:
    """The exact versions one host needs, per package manager (pip: per interpreter)."""

    apt: dict[str, str] = field(default_factory=dict)  # package -> version
    dnf: dict[str, str] = field(default_factory=dict)
    pip: dict[PipTarget, dict[str, str]] = field(default_factory=dict)

    def key(self) -> tuple[object, ...]:
        return (
            tuple(sorted(self.apt.items())),
            tuple(sorted(self.dnf.items())),
            tuple(sorted((t, tuple(sorted(p.items()))) for t, p in self.pip.items())),
        )


def emit_playbook(
    report: CheckReport, lockfile: Lockfile, *, drift_only: bool, hold: bool
) -> dict[str, str]:
    """``{PLAYBOOK_PATH: text}``: plays installing pinned versions.

    ``drift_only``: only drifted and missing packages, on the hosts that have them; otherwise
    every exact pin on every collected host (waived findings are left alone either way).

    ``hold`` also marks fixed deb packages ``hold`` (dpkg selections) so unattended upgrades
    cannot move them again, and locks fixed rpm packages with community.general.yum_versionlock.
    """
    fixes, skipped = plan_fixes(report, lockfile, drift_only=drift_only)

    groups: dict[tuple[object, ...], list[str]] = {}
    for name, host in fixes.items():
        groups.setdefault(host.key(), []).append(name)
    plays = sorted(sorted(names) for names in groups.values())

    lines = _header(report, lockfile, drift_only=drift_only, hold=hold, skipped=skipped)
    lines += [
        comment(f"{sum(len(p) for p in plays)} host(s) in {len(plays)} play(s)."),
        "---",
    ]
    if not plays:
        lines += _empty_play()
    for names in plays:
        lines += _play(names, fixes[names[0]], hold=hold)
    return {PLAYBOOK_PATH: "\n".join(lines) + "\n"}


def plan_fixes(
    report: CheckReport, lockfile: Lockfile, *, drift_only: bool
) -> tuple[dict[str, HostFixes], list[str]]:
    """Per host, the exact versions to install; and why anything else is not fixed.

    Shared by the playbook and the Salt drift states: which findings get a fix is one decision.
    """
    wanted = {FindingKind.DRIFT, FindingKind.MISSING}
    # Per (host, ecosystem, pip target, package): the specs the host's roles pin it to. An OK
    # finding counts too: fixing app's nginx must not move it off db's pin on the same host.
    specs: dict[_Key, set[str]] = {}
    to_install: dict[_Key, str] = {}
    skipped: list[str] = []
    pins = _Pins(lockfile)
    for finding in report.findings:
        eco = finding.ecosystem
        if eco is None or finding.ecosystem is Ecosystem.APP:  # apps are deployed, not installed
            continue
        if finding.kind is FindingKind.OK:
            key = (finding.host, eco, _pip_target_of(finding), finding.package)
            specs.setdefault(key, set()).add(finding.expected)
            if not drift_only:  # full converge: satisfied exact pins are (re)asserted too
                ok_fix = _fix_for(finding, pins)
                if not isinstance(ok_fix, str):  # a satisfied glob/range needs nothing
                    to_install[key] = ok_fix[1]
            continue
        if finding.kind not in wanted:
            continue
        fix = _fix_for(finding, pins)
        if isinstance(fix, str):
            skipped.append(f"{finding.host} {eco.value} {finding.package}: {fix}")
            continue
        target, version = fix
        key = (finding.host, eco, target, finding.package)
        specs.setdefault(key, set()).add(finding.expected)
        to_install[key] = version

    fixes: dict[str, HostFixes] = {}
    for key, version in to_install.items():
        host_name, eco, target, package = key
        if len(specs[key]) > 1:
            skipped.append(
                f"{host_name} {eco.value} {package}: its roles pin different versions "
                f"({', '.join(sorted(specs[key]))})"
            )
            continue
        host = fixes.setdefault(host_name, HostFixes())
        match eco:
            case Ecosystem.DEB:
                table = host.apt
            case Ecosystem.RPM:
                table = host.dnf
            case Ecosystem.PIP:
                assert target is not None
                table = host.pip.setdefault(target, {})
            case Ecosystem.APP:
                continue
            case _:
                assert_never(eco)
        table[package] = version
    return fixes, skipped


def _fix_for(finding: Finding, pins: _Pins) -> tuple[PipTarget | None, str] | str:
    """(pip target, version to install) for a fixable finding, else why it is not fixed."""
    assert finding.ecosystem is not None
    pin = pins.find(finding)
    kind = pin.policy.kind if pin is not None else None
    spec = pin.spec if pin is not None else finding.expected
    match kind:
        case None:
            return f"no pin for it in the lockfile for {finding.role}/{finding.os_release}"
        case PolicyKind.GLOB | PolicyKind.RANGE:
            return f"{kind.value} pin {spec!r} names no single version to install"
        case PolicyKind.EXACT:
            pass
        case _:
            assert_never(kind)
    version = installable(finding.ecosystem, spec)
    if finding.ecosystem is not Ecosystem.PIP:
        return None, version
    target = _pip_target_of(finding)
    if target is None:
        if finding.kind is FindingKind.MISSING:
            return "in none of the host's interpreters; pinmgr cannot tell which should have it"
        return "no interpreter or virtualenv recorded for it"
    return target, version


def _pip_target_of(finding: Finding) -> PipTarget | None:
    """Where a pip finding's package lives: ``Finding.reason`` ends with the pip origin."""
    if finding.ecosystem is not Ecosystem.PIP:
        return None
    origin = finding.reason
    for prefix in _STATE_PREFIXES:
        origin = origin.removeprefix(prefix)
    if not origin or origin in {s.value for s in PackageState}:
        return None
    return pip_target(origin)


class _Pins:
    """The pin behind a finding (role pins override shared ones, as ``check`` did).

    Findings name the installed package: ``libssl3:amd64`` for a ``libssl3`` pin, canonical
    names for pip; an exact name match wins over a base-name one. Indexed once per role and
    release: a fleet report has far more findings than the lockfile has pins.
    """

    def __init__(self, lockfile: Lockfile) -> None:
        self._lockfile = lockfile
        self._index: dict[tuple[str, str], dict[tuple[Ecosystem, str, str], Pin]] = {}

    def find(self, finding: Finding) -> Pin | None:
        key = (finding.role, finding.os_release)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = {}
            for pin in self._lockfile.pins_for(*key):
                for kind, name in self._names(pin.ecosystem, pin.package):
                    index.setdefault((pin.ecosystem, kind, name), pin)
        eco = finding.ecosystem
        assert eco is not None
        for kind, name in self._names(eco, finding.package):
            if (eco, kind, name) in index:
                return index[(eco, kind, name)]
        return None

    @staticmethod
    def _names(eco: Ecosystem, package: str) -> list[tuple[str, str]]:
        if eco is Ecosystem.PIP:
            return [("pip", canonicalize_name(package))]
        if eco is Ecosystem.RPM:  # glibc.i686 (a finding per arch) comes from a glibc pin
            return [("exact", package), ("base", split_arch(package)[0])]
        return [("exact", package), ("base", package.split(":", 1)[0])]


def _header(
    report: CheckReport, lockfile: Lockfile, *, drift_only: bool, hold: bool, skipped: list[str]
) -> list[str]:
    source = report.lockfile or lockfile.path
    what = "drifted or missing" if drift_only else "pinned (ok, drifted or missing)"
    lines = [
        comment(
            f"Generated by pinmgr from {source}. Do not edit: run `pinmgr emit ansible-playbook`."
        ),
        comment(f"Installs the exact pinned version of every {what} package, per host."),
        comment("Run it with --check --diff first; then `pinmgr check` should report no drift."),
    ]
    if hold:
        lines.append(comment("deb packages are also put on hold (dpkg --set-selections)."))
        lines.append(
            comment(
                "rpm packages are also locked: community.general.yum_versionlock (see "
                "docs/ansible.md)."
            )
        )
    if skipped:
        lines.append(comment("Not fixed by this playbook (`pinmgr check` keeps reporting them):"))
        lines += [comment(f"  {line}") for line in sorted(set(skipped))]
    return lines


def _play_name(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"Put {shown}{more} back on pinned versions"


def _play(names: list[str], fix: HostFixes, *, hold: bool) -> list[str]:
    lines = [
        f"- name: {yaml_str(_play_name(names))}",
        "  hosts:",
        *(f"    - {yaml_str(name)}" for name in names),
        "  become: true",
        "  gather_facts: false",
        "  tasks:",
    ]
    if fix.apt:
        lines += _task(
            "Install pinned deb versions",
            "ansible.builtin.apt",
            [f"{p}={v}" for p, v in sorted(fix.apt.items())],
            ["allow_downgrade: true", "allow_change_held_packages: true"],
        )
        if hold:
            lines += [
                f"    - name: {yaml_str('Hold pinned deb packages')}",
                "      ansible.builtin.dpkg_selections:",
                '        name: "{{ item }}"',
                "        selection: hold",
                "      loop:",
                *(f"        - {yaml_str(p)}" for p in sorted(fix.apt)),
            ]
    if fix.dnf:
        lines += _task(
            "Install pinned rpm versions",
            "ansible.builtin.dnf",
            [dnf_spec(p, v) for p, v in sorted(fix.dnf.items())],
            ["allow_downgrade: true"],
        )
        if hold:
            # Plain names: the plugin locks what is installed now (the pins, just installed),
            # and community.general matches its own list entries by name (idempotent).
            lines += _task(
                "Lock pinned rpm versions",
                "community.general.yum_versionlock",
                sorted({split_arch(p)[0] for p in fix.dnf}),
                ["state: present"],
            )
    for target in sorted(fix.pip):
        lines += _task(
            f"Install pinned pip versions with {target.path}",
            "ansible.builtin.pip",
            [f"{p}=={v}" for p, v in sorted(fix.pip[target].items())],
            [f"{target.option}: {yaml_str(target.path)}"],
        )
    return lines


def dnf_spec(package: str, version: str) -> str:
    """What dnf installs for a pin: ``name-[epoch:]version-release``, plus ``.arch`` for one
    architecture (``glibc-2.34-100.el9.i686``; ``glibc.i686-...`` means nothing to dnf)."""
    name, arch = split_arch(package)
    return f"{name}-{version}.{arch}" if arch else f"{name}-{version}"


def _task(name: str, module: str, packages: list[str], options: list[str]) -> list[str]:
    return [
        f"    - name: {yaml_str(name)}",
        f"      {module}:",
        "        name:",
        *(f"          - {yaml_str(p)}" for p in packages),
        *(f"        {opt}" for opt in options),
    ]


def _empty_play() -> list[str]:
    """A valid no-op play: nothing drifted, and a stale fix.yml must not be left to run."""
    return [
        f"- name: {yaml_str('Nothing to fix, every checked host is on its pins')}",
        # "!all" matches no host: the play is skipped (an empty hosts list is an error).
        '  hosts: "!all"',
        "  gather_facts: false",
        "  tasks: []",
    ]
