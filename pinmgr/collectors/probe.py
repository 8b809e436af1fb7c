"""The one fixed POSIX sh script run on every host: one round trip collects everything.

Local and SSH transports run exactly this string with ``sh -c``. Output comes in sections
framed by marker lines that carry a fresh random nonce, so nothing a host prints (a package
description, a hostile ``dpkg-query`` wrapper, a chatty shell rc file) can forge a section
without knowing the nonce. Every value that comes from the inventory is ``shlex.quote``-d.
"""

from __future__ import annotations

import re
import secrets
import shlex

from pinmgr.collectors.available import AvailableQuery, probe_lines
from pinmgr.model import AppSource, Host

MARKER = "@@pinmgr"
"""First word of every marker line: ``@@pinmgr <nonce> begin <section>``."""

SECTION_OS_RELEASE = "os-release"
SECTION_DPKG_ARCH = "dpkg-arch"
SECTION_DPKG = "dpkg"
SECTION_RPM = "rpm"
PIP_PREFIX = "pip:"
"""pip sections are ``pip:<index into Host.pip>``: inventory paths never appear in markers."""
APP_PREFIX = "app:"
"""Application sections are ``app:<index into Host.apps>`` (git and file sources only)."""

# A git checkout's HEAD read with the shell alone (no git on the host): HEAD of the git dir (a
# worktree's ``.git`` file names it), then the ref it names, loose first, then packed-refs
# (refs live in the common dir of a linked worktree). Prints ``head``/``ref``/``packed`` lines,
# or ``absent``; the parser resolves them (collectors.parsers.app_revision).
GIT_HEAD = [
    "git_head() {",
    '  g="$1/.git"',
    '  if [ -f "$g" ]; then IFS= read -r l < "$g" || :; g=${l#gitdir: };'
    ' case $g in /*) ;; *) g="$1/$g";; esac; fi',
    "  if [ ! -r \"$g/HEAD\" ]; then printf 'absent\\n'; return 0; fi",
    '  IFS= read -r h < "$g/HEAD" || :; printf \'head\\t%s\\n\' "$h"; c=$g',
    '  if [ -r "$g/commondir" ]; then IFS= read -r x < "$g/commondir" || :;'
    ' case $x in /*) c=$x;; *) c="$g/$x";; esac; fi',
    "  case $h in 'ref: '*) r=${h#ref: }",
    '    for d in "$g" "$c"; do if [ -r "$d/$r" ] && [ -f "$d/$r" ]; then',
    '      IFS= read -r v < "$d/$r" || :; printf \'ref\\t%s\\n\' "$v"; return 0; fi; done',
    '    if [ -r "$c/packed-refs" ]; then while IFS= read -r l || [ -n "$l" ]; do',
    '      case $l in *" $r") printf \'packed\\t%s\\n\' "${l%% *}"; return 0;; esac',
    '    done < "$c/packed-refs"; fi;;',
    "  esac",
    "}",
    "first_line() {",
    '  if [ -r "$1" ] && [ -f "$1" ]; then IFS= read -r v < "$1" || :;'
    " printf 'file\\t%s\\n' \"$v\"; else printf 'absent\\n'; fi",
    "}",
]

DPKG_FORMAT = r"${binary:Package}\t${Version}\t${db:Status-Abbrev}\t${Architecture}\n"
RPM_FORMAT = r"%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"

# Runs under the host's interpreter (-I: no PYTHONPATH, no user site, no cwd on sys.path).
# Writes bytes so a C locale or an odd name cannot raise UnicodeEncodeError half-way.
# Lists installed distributions like importlib.metadata.distributions() (first one on the path
# wins for a name), but reads only the Name/Version headers: importing importlib.metadata costs
# ~40 ms of host CPU per interpreter, which dominated a fleet check (docs/benchmarks.md).
# Given site-packages dirs as arguments (a plain virtualenv, run with -S so site.py and every
# .pth import are skipped: ~10 ms less per host), it scans those plus the path lines of their
# .pth files, as site.py would have added them.
PIP_CODE = """\
import os, re, sys
w = sys.stdout.buffer.write
paths = sys.path
if len(sys.argv) > 1:
    paths = []
    for s in sys.argv[1:]:
        paths.append(s)
        try:
            names = sorted(os.listdir(s))
        except OSError:
            continue
        for n in names:
            if not n.endswith(".pth"):
                continue
            try:
                with open(os.path.join(s, n), encoding="utf-8", errors="replace") as h:
                    for line in h:
                        line = line.strip()
                        if line and not line.startswith(("#", "import ", "import\\t")):
                            paths.append(os.path.join(s, line))
            except OSError:
                pass
seen = set()
for p in paths:
    try:
        entries = sorted(os.scandir(p or "."), key=lambda e: e.name)
    except OSError:
        continue
    for e in entries:
        n = e.name
        if not n.endswith((".dist-info", ".egg-info")):
            continue
        f = os.path.join(e.path, "METADATA" if n.endswith(".dist-info") else "PKG-INFO")
        try:
            h = open(f if e.is_dir() else e.path, "rb")
        except OSError:
            continue
        d = {}
        with h:
            for line in h:
                if not line.strip():
                    break
                k, _, v = line.partition(b":")
                if k in (b"Name", b"Version") and k not in d:
                    d[k] = v.strip()
        name = d.get(b"Name")
        key = re.sub(rb"[-_.]+", b"-", name.lower()) if name else None
        if key and key not in seen:
            seen.add(key)
            w(name + b"\\t" + d.get(b"Version", b"") + b"\\n")
sys.stdout.flush()
"""

# True when a virtualenv also sees the system's site-packages (then site.py must run).
VENV_SYSTEM_SITE = [
    "venv_sys() {",
    '  while IFS= read -r l || [ -n "$l" ]; do',
    "    case $l in include-system-site-packages*[Tt]rue*) return 0;; esac",
    '  done < "$1/pyvenv.cfg"',
    "  return 1",
    "}",
]

# Reads the Name/Version headers of metadata files the way PIP_CODE does (first of each per
# file, stopping at the first blank line), printing ``name<TAB>version``. One awk process per
# virtualenv instead of a Python interpreter: ~1.5 ms of host CPU instead of ~14 ms, which is
# most of what a fleet check costs the app hosts (docs/benchmarks.md). BEGIN drops the
# operands it cannot open (a glob that matched nothing stays a literal word; an unreadable
# file), so no shell loop has to test each one. ``s`` (not ``nextfile`` alone) ends a file, so
# an awk without ``nextfile`` (mawk 1.3.3) reads on but stays correct.
META_AWK = r"""BEGIN {
  for (i = 1; i < ARGC; i++)
    if ((getline l < ARGV[i]) < 0) ARGV[i] = ""; else close(ARGV[i])
}
function out() { if (n != "") print n "\t" v; n = ""; v = "" }
FNR == 1 { out(); s = 0 }
s { next }
/^[ \t\r]*$/ { out(); s = 1; nextfile }
n == "" && /^Name:/ { n = $0; sub(/^Name:[ \t]*/, "", n); sub(/[ \t\r]+$/, "", n) }
v == "" && /^Version:/ { v = $0; sub(/^Version:[ \t]*/, "", v); sub(/[ \t\r]+$/, "", v) }
n != "" && v != "" { out(); s = 1; nextfile }
END { out() }
"""

# A plain virtualenv listed without starting its interpreter: site-packages, then the
# directories its .pth path lines add (as site.py would; import lines only run code), each
# directory's *.dist-info/METADATA, *.egg-info/PKG-INFO and *.egg-info files, in that order.
# Fails (so the caller falls back to PIP_CODE) when awk does; a listing cut short is then
# printed again in full, and the first of each name wins in the parser, so nothing is counted
# twice.
VENV_META = [
    "cr='\r'",
    "meta() {",
    "  _d=$1",
    '  set -- "$_d"/*.dist-info/METADATA "$_d"/*.egg-info/PKG-INFO',
    '  for _f in "$_d"/*.egg-info; do [ -f "$_f" ] && set -- "$@" "$_f"; done',
    f'  awk {shlex.quote(META_AWK)} "$@" </dev/null',
    "}",
    "venv_meta() {",
    '  for s in "$1"/lib/python3*/site-packages; do',
    '    [ -d "$s" ] || continue',
    '    meta "$s" || return',
    '    for f in "$s"/*.pth; do',
    '      [ -f "$f" ] && [ -r "$f" ] || continue',
    '      while read -r l || [ -n "$l" ]; do',
    '        l=${l%"$cr"}',
    "        case $l in ''|'#'*|'import '*|'import\t'*) continue;; esac",
    "        case $l in /*) d=$l;; *) d=$s/$l;; esac",
    '        [ -d "$d" ] || continue',
    '        meta "$d" || return',
    '      done < "$f"',
    "    done",
    "  done",
    "}",
]

_NONCE_RE = re.compile(r"[0-9a-f]{16,128}")


def new_nonce() -> str:
    """A fresh nonce per probe run; 128 bits so a host cannot guess it."""
    return secrets.token_hex(16)


def build_probe(host: Host, nonce: str, available: AvailableQuery | None = None) -> str:
    """The probe script for ``host``; ``nonce`` must be lowercase hex (see ``new_nonce``).

    ``available`` adds the read-only "what do the sources offer" sections for those names
    (``check --installable``, ``outdated``); see ``collectors.available``.
    """
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 16-128 lowercase hex characters")
    lines = [
        # Non-interactive SSH sessions often lack sbin dirs; C locale keeps output stable.
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH",
        "LC_ALL=C",
        "export PATH LC_ALL",
        f"m='{MARKER} {nonce}'",
        # printf, never echo: arguments are printed as data, not interpreted.
        """b() { printf '%s begin %s\\n' "$m" "$1"; }""",
        # Leading newline: the end marker is on its own line even if output lacks one.
        """e() { printf '\\n%s end %s %s\\n' "$m" "$1" "$2"; }""",
        # Every process costs host CPU on each of hundreds of hosts: the os-release file is
        # read by the shell itself, and dpkg's own architecture stands for the native one
        # (parsers.dpkg_native_arch) instead of running dpkg --print-architecture.
        f"b {SECTION_OS_RELEASE}",
        "f=/etc/os-release; [ -r $f ] || f=/usr/lib/os-release",
        """while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < $f""",
        f"e {SECTION_OS_RELEASE} $?",
        "if command -v dpkg-query >/dev/null 2>&1; then",
        f"  b {SECTION_DPKG}; dpkg-query -W -f={shlex.quote(DPKG_FORMAT)} </dev/null;"
        f" e {SECTION_DPKG} $?",
        "fi",
        # Only if an rpm database exists (Debian may ship rpm with none): file tests, so no
        # rpm process starts on hosts that do not use it.
        # (Debian's own rpm keeps its database in ~/.rpmdb.)
        'x=""; for d in /var/lib/rpm /usr/lib/sysimage/rpm "$HOME/.rpmdb"; do',
        '  for f in rpmdb.sqlite Packages Packages.db; do [ -e "$d/$f" ] && x=1; done',
        "done",
        'if [ -n "$x" ] && command -v rpm >/dev/null 2>&1; then',
        f"  b {SECTION_RPM}; rpm -qa --qf {shlex.quote(RPM_FORMAT)} </dev/null; e {SECTION_RPM} $?",
        "fi",
    ]
    code = shlex.quote(PIP_CODE)
    if host.pip:
        lines += VENV_SYSTEM_SITE + VENV_META
    for index, path in enumerate(host.pip):
        section = f"{PIP_PREFIX}{index}"
        lines += [
            f"p={shlex.quote(path)}; b {section}",
            # A plain virtualenv whose interpreter exists is read by awk (no Python started),
            # or without site.py by its interpreter when awk fails; an interpreter path, or a
            # virtualenv that sees the system's packages, runs the listing with site.py.
            'if [ -d "$p" ] && [ -r "$p/pyvenv.cfg" ] && [ -x "$p/bin/python" ] &&'
            ' ! venv_sys "$p"; then',
            '  if command -v awk >/dev/null 2>&1 && venv_meta "$p"; then :; else',
            f'    "$p/bin/python" -I -S -c {code} "$p"/lib/python3*/site-packages </dev/null',
            "  fi",
            "else",
            '  if [ -d "$p" ]; then p="$p/bin/python"; fi',
            f'  "$p" -I -c {code} </dev/null',
            "fi",
            f"e {section} $?",
        ]
    readable = [(i, app) for i, app in enumerate(host.apps) if app.source is not AppSource.PACKAGE]
    if readable:
        lines += GIT_HEAD
    for index, app in readable:
        section = f"{APP_PREFIX}{index}"
        if app.source is AppSource.GIT:
            lines.append(f"b {section}; git_head {shlex.quote(app.path)}; e {section} $?")
        else:
            target = shlex.quote(f"{app.path.rstrip('/')}/{app.file}")
            lines.append(f"b {section}; first_line {target}; e {section} $?")
    if available:
        lines += probe_lines(available)
    lines.append("""printf '%s done\\n' "$m\"""")
    return "\n".join(lines) + "\n"
