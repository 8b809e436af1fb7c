"""The one OpenSSH client-config resolver: a host alias → what ``ssh ALIAS`` would use.

Why a parser of our own and not ``ssh -G``: ``ssh -G`` is exact by construction, but it
re-reads the whole config for every host. Measured on this project's 2-core CI box with a
1,000-host config (``xargs -P N ssh -G -F fleet.cfg`` over 1,000 names): 6.4-6.9 s wall and
~6 ms of CPU per host whether N is 1, 2 or 8 (CPU-bound: a process pool does not help). This
module parses once and resolves each host in microseconds; ``tests/unit/inventory/
test_openssh_differential.py`` holds it to ``ssh -G`` field by field on a corpus of configs.

Semantics follow OpenSSH 9's readconf.c: keywords and Match criteria are case-insensitive;
``Host`` patterns are case-sensitive against the name as typed, ``Match host``/``originalhost``
are not; the first value set wins (IdentityFile and CertificateFile accumulate); an
``Include`` is read where it stands and, inside a Host/Match block, only when the block
applies (its own blocks never apply otherwise); ``Match final``/``canonical`` blocks apply on a
second pass against the resolved host name. ``Match exec`` runs a local command, so it runs
only when asked for (``allow_exec``; ``PINMGR_SSH_MATCH_EXEC=1``). Not supported (a per-host
problem, never a silent guess): ``Match localnetwork``, DNS canonicalisation.

``~`` and ``%d`` mean ``$HOME`` here as everywhere in pinmgr; OpenSSH uses the passwd entry for
them (and ``$HOME`` for ``Include``): the two agree unless ``$HOME`` was changed.
"""

from __future__ import annotations

import bisect
import functools
import getpass
import glob
import hashlib
import os
import pwd
import re
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pinmgr.errors import InventoryError
from pinmgr.inventory import textfile
from pinmgr.model import Location, SshEndpoint, SshRoute

USER_CONFIG = "~/.ssh/config"
SYSTEM_CONFIG = "/etc/ssh/ssh_config"
DEFAULT_IDENTITY_FILES = (
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
)
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
MATCH_EXEC_ENV = "PINMGR_SSH_MATCH_EXEC"
_MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
_MAX_JUMP_DEPTH = 8
_WS = " \t\r\n"
_MAX_FILES = 100  # OpenSSH's SSH_MAX_IDENTITY_FILES (also for certificates)

# Keywords whose value pinmgr uses; every other keyword is read (for syntax) and ignored.
_SINGLE = frozenset(
    {
        "hostname",
        "user",
        "port",
        "proxyjump",
        "connecttimeout",
        "identitiesonly",
        "stricthostkeychecking",
        "hostkeyalias",
        "canonicalizehostname",
        "identityfile",
        "certificatefile",
    }
)
_BOOL = {"yes": True, "true": True, "no": False, "false": False}
_STRICT = {
    "yes": "yes",
    "true": "yes",
    "no": "no",
    "false": "no",
    "off": "no",
    "ask": "ask",
    "accept-new": "accept-new",
}
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class HostProblem(InventoryError):
    """One host cannot be placed (the config itself is fine): the other hosts still load."""

    def __init__(self, message: str, location: Location | None = None, host: str = "") -> None:
        super().__init__(message, location)
        self.host = host


# --- context --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Who resolves: what ``~``, ``%d``, ``%u``, ``%l``... and ``Match localuser`` mean."""

    home: str
    local_user: str
    uid: int
    local_host: str
    allow_exec: bool = False
    env: Mapping[str, str] = field(default_factory=dict, compare=False)


def default_context(*, allow_exec: bool | None = None) -> Context:
    """This process's user, ``$HOME`` and host name; exec only if asked or the env says so."""
    home = os.environ.get("HOME") or str(Path.home())
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = getpass.getuser()
    if allow_exec is None:
        allow_exec = os.environ.get(MATCH_EXEC_ENV, "") not in ("", "0", "no", "false")
    return Context(home, user, os.getuid(), socket.gethostname(), allow_exec, dict(os.environ))


# --- lexing (misc.c argv_split / strdelim) --------------------------------------------------


def argv_split(text: str) -> list[str] | None:
    """OpenSSH's argv_split with comments: quotes, backslash escapes; None on open quote."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        if text[i] == "#":
            break
        quote = ""
        arg: list[str] = []
        while i < n:
            c = text[i]
            if (
                c == "\\"
                and i + 1 < n
                and (text[i + 1] in "'\"\\" or (not quote and text[i + 1] == " "))
            ):
                i += 1
                arg.append(text[i])
            elif not quote and c in " \t":
                break
            elif not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                arg.append(c)
            i += 1
        if quote:
            return None
        args.append("".join(arg))
    return args


def strdelim(text: str | None) -> tuple[str | None, str | None]:
    """OpenSSH's strdelim: next token (whitespace, one ``=`` or a "quoted" string) and rest."""
    if text is None:
        return None, None
    idx = next((i for i, c in enumerate(text) if c in _WS + '"='), -1)
    if idx < 0:
        return text, None
    if text[idx] == '"':
        joined = text[:idx] + text[idx + 1 :]
        close = joined.find('"', idx)
        if close < 0:
            return None, None
        return joined[:close], joined[close + 1 :].lstrip(_WS)
    equals = text[idx] == "="
    rest = text[idx + 1 :].lstrip(_WS)
    if rest.startswith("=") and not equals:
        rest = rest[1:].lstrip(_WS)
    return text[:idx], rest


# --- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One ``Match`` criterion: ``[!]name [argument]``."""

    name: str
    negate: bool
    arg: str = ""


@dataclass(frozen=True)
class Directive:
    """One config line: lower-cased keyword, its arguments, where it is written."""

    keyword: str
    args: tuple[str, ...]
    where: Location
    criteria: tuple[Criterion, ...] = ()
    included: tuple[ConfigFile, ...] = ()
    # A Host line of plain names (no * ? !): matched by set membership, no pattern at all.
    names: frozenset[str] | None = None


_CONTROL = frozenset({"host", "match", "include"})


@dataclass(frozen=True)
class ConfigFile:
    path: str
    directives: tuple[Directive, ...]
    # For each directive, the index of the next Host/Match/Include at or after it: an
    # inactive block's settings are skipped in one step (a 1,000-host config has 3,000 lines).
    next_control: tuple[int, ...] = ()
    # Control lines every lookup must visit (Match, Include, Host with patterns), and the
    # plain-name Host lines by name: a lookup jumps between the ones that concern it.
    always: tuple[int, ...] = ()
    by_name: Mapping[str, tuple[int, ...]] = field(default_factory=dict, compare=False)

    def next_visit(self, after: int, host: str) -> int:
        """The first control line after ``after`` that ``host`` must visit (or the end)."""
        best = len(self.directives)
        for indices in (self.always, self.by_name.get(host, ())):
            at = bisect.bisect_right(indices, after)
            if at < len(indices):
                best = min(best, indices[at])
        return best


@dataclass(frozen=True)
class SshConfig:
    """Parsed config files in reading order; ``path`` is what ``ssh -F`` would be given."""

    files: tuple[ConfigFile, ...]
    path: str | None = None

    def directives(self) -> list[Directive]:
        """Every directive, Includes flattened in reading order (for listing Host names)."""
        out: list[Directive] = []

        def walk(f: ConfigFile) -> None:
            for d in f.directives:
                out.append(d)
                for inc in d.included:
                    walk(inc)

        for f in self.files:
            walk(f)
        return out


def _error(message: str, where: Location) -> InventoryError:
    return InventoryError(message, where)


def _parse_match(rest: str, where: Location) -> tuple[Criterion, ...]:
    criteria: list[Criterion] = []
    cp: str | None = rest
    seen = 0
    while True:
        attrib, cp = strdelim(cp)
        if not attrib:
            break
        if attrib.startswith("#"):
            break
        negate = attrib.startswith("!")
        name = attrib[1:].lower() if negate else attrib.lower()
        if name == "all":
            arg, cp = strdelim(cp)
            if seen > 1 or (arg and not arg.startswith("#")):
                raise _error(f"'{attrib}' cannot be combined with other Match attributes", where)
            criteria.append(Criterion(name, negate))
            break
        seen += 1
        if name in ("canonical", "final"):
            criteria.append(Criterion(name, negate))
            continue
        arg, cp = strdelim(cp)
        if not arg or arg.startswith("#"):
            raise _error(f"Missing Match criteria for {attrib}", where)
        if name not in ("host", "originalhost", "user", "localuser", "exec", "localnetwork"):
            raise _error(f"Unsupported Match attribute {attrib}", where)
        criteria.append(Criterion(name, negate, arg))
    return tuple(criteria)


def _convtime(value: str) -> int | None:
    """OpenSSH's convtime: ``90``, ``1m30s``...; None if malformed."""
    if not value:
        return None
    total = 0
    for number, unit in re.findall(r"(\d+)([smhdwSMHDW]?)", value):
        total += int(number) * _TIME_UNITS[unit.lower()]
    if re.fullmatch(r"(\d+[smhdwSMHDW]?)+", value) is None:
        return None
    return total


def a2port(value: str) -> int | None:
    """OpenSSH's a2port: 1-65535, or a TCP service name; None if neither."""
    if value.isdigit():
        port = int(value)
        return port if 0 < port < 65536 else None
    try:
        return socket.getservbyname(value, "tcp")
    except OSError:
        return None


def _check_value(keyword: str, args: list[str], where: Location) -> None:
    """Value syntax errors OpenSSH reports for every host (whatever block they are in)."""
    if keyword in _SINGLE and len(args) > 1:
        raise _error(f"keyword {keyword} extra arguments at end of line", where)
    value = args[0] if args else ""
    if keyword == "port" and a2port(value) is None:
        raise _error(f"invalid Port {value!r}", where)
    if keyword == "connecttimeout" and _convtime(value) is None:
        raise _error(f"invalid time value {value!r}", where)
    if keyword == "identitiesonly" and value.lower() not in _BOOL:
        raise _error(f"unsupported IdentitiesOnly value {value!r}", where)
    if keyword == "stricthostkeychecking" and value.lower() not in _STRICT:
        raise _error(f"unsupported StrictHostKeyChecking value {value!r}", where)
    if keyword == "proxyjump" and value.lower() != "none":
        for hop in value.split("#", 1)[0].rstrip().split(","):
            parse_hop(hop, where)


def _include(
    args: list[str], where: Location, ctx: Context, user: bool, depth: int
) -> tuple[ConfigFile, ...]:
    files: list[ConfigFile] = []
    for arg in args:
        if not arg:
            raise _error("keyword include empty argument", where)
        if arg.startswith("~") and not user:
            raise _error("tilde expansion not supported in system includes", where)
        if arg.startswith("~"):
            pattern = _tilde(arg, ctx.home)
        elif arg.startswith("/"):
            pattern = arg
        else:
            pattern = f"{ctx.home}/.ssh/{arg}" if user else f"/etc/ssh/{arg}"
        # glob.glob takes absolute patterns (Path.glob does not); sorted like glob(3).
        for name in sorted(glob.glob(pattern)):  # noqa: PTH207
            files.append(_parse_file(Path(name), ctx, user, depth + 1, where))
    return tuple(files)


def _parse_lines(text: str, path: str, ctx: Context, user: bool, depth: int) -> ConfigFile:
    directives: list[Directive] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip(_WS + "\f")
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        where = Location(path, number, len(line) - len(stripped) + 1)
        if "\x00" in line:  # ssh's C strings would end there; paths with one cannot be opened
            raise _error("NUL byte in line", where)
        cut = next((i for i, c in enumerate(stripped) if c in " \t="), len(stripped))
        keyword, rest = stripped[:cut].lower(), stripped[cut:]
        # strdelim: one "=" may stand between keyword and value, with or without blanks.
        rest = rest.lstrip(_WS)
        if rest.startswith("="):
            rest = rest[1:].lstrip(_WS)
        if not keyword:
            continue
        if not rest:
            raise _error(f'no argument after keyword "{keyword}"', where)
        args = argv_split(rest)
        if args is None:
            raise _error("invalid quotes", where)
        criteria: tuple[Criterion, ...] = ()
        included: tuple[ConfigFile, ...] = ()
        if keyword == "match":
            criteria = _parse_match(rest, where)
        elif keyword == "include":
            included = _include(args, where, ctx, user, depth)
        elif keyword == "host" and any(a == "" for a in args):
            raise _error("keyword host empty argument", where)
        else:
            _check_value(keyword, args, where)
        if keyword == "proxycommand":
            args = [rest]  # the rest of the line, as written
        names = None
        if keyword == "host" and not any(set(a) & set("*?!") for a in args):
            names = frozenset(args)
        directives.append(Directive(keyword, tuple(args), where, criteria, included, names))
    nxt = [len(directives)] * len(directives)
    following = len(directives)
    for index in range(len(directives) - 1, -1, -1):
        if directives[index].keyword in _CONTROL:
            following = index
        nxt[index] = following
    always: list[int] = []
    by_name: dict[str, list[int]] = {}
    for index, d in enumerate(directives):
        if d.names is not None:
            for name in d.names:
                by_name.setdefault(name, []).append(index)
        elif d.keyword in _CONTROL:
            always.append(index)
    return ConfigFile(
        path,
        tuple(directives),
        tuple(nxt),
        tuple(always),
        {name: tuple(indices) for name, indices in by_name.items()},
    )


def _parse_file(
    path: Path, ctx: Context, user: bool, depth: int, where: Location | None
) -> ConfigFile:
    if depth > _MAX_INCLUDE_DEPTH:
        raise _error(
            f"Include nested deeper than {_MAX_INCLUDE_DEPTH} levels",
            where or Location(str(path), 1),
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(
            f"cannot read OpenSSH config: {exc.strerror or exc}", where or Location(str(path), 1)
        ) from exc
    return _parse_lines(
        textfile.decode(raw, str(path), "OpenSSH config"), str(path), ctx, user, depth
    )


def read_config(path: str | Path | None, ctx: Context | None = None) -> SshConfig:
    """``path`` (like ``ssh -F``); None: ``~/.ssh/config`` if any, then the system config."""
    ctx = ctx or default_context()
    if path is not None:
        full = Path(_tilde(str(path), ctx.home))
        return SshConfig((_parse_file(full, ctx, True, 0, None),), str(full))
    files = []
    user_config = Path(_tilde(USER_CONFIG, ctx.home))
    if user_config.is_file():
        files.append(_parse_file(user_config, ctx, True, 0, None))
    if Path(SYSTEM_CONFIG).is_file():
        files.append(_parse_file(Path(SYSTEM_CONFIG), ctx, False, 0, None))
    return SshConfig(tuple(files), None)


def config_from_text(text: str, label: str, ctx: Context | None = None) -> SshConfig:
    """A config given as text (``vagrant ssh-config``); errors point at ``label``:line."""
    return SshConfig((_parse_lines(text, label, ctx or default_context(), True, 0),), None)


# --- matching (match.c) ---------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _glob_re(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S
    )


def match_pattern(text: str, pattern: str) -> bool:
    """``*`` and ``?`` only (``[`` is literal), case-sensitive, whole string."""
    if "*" not in pattern and "?" not in pattern:
        return text == pattern  # most Host names: no regex at all
    return _glob_re(pattern).fullmatch(text) is not None


def match_pattern_list(text: str, patterns: str, lower: bool) -> bool:
    """Comma-separated, ``!`` negates (a negated match fails the whole list)."""
    positive = False
    for raw in patterns.split(","):
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        if lower:
            pattern = pattern.lower()
        if match_pattern(text, pattern):
            if negated:
                return False
            positive = True
    return positive


# --- evaluation -----------------------------------------------------------------------------


@dataclass
class _Options:
    """First-value-wins option state of one lookup, as readconf.c's Options."""

    values: dict[str, str] = field(default_factory=dict)
    where: dict[str, Location] = field(default_factory=dict)
    identity: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)
    known_hosts: list[str] | None = None
    proxy_command: str | None = None
    want_final: bool = False


@dataclass(frozen=True)
class Resolved:
    """One lookup's result, before ``~``/``%`` expansion of paths (what ``ssh -G`` prints)."""

    alias: str
    hostname: str
    user: str
    port: int
    identity_files: tuple[str, ...]  # as written; OpenSSH's defaults when none is
    identity_configured: bool
    certificate_files: tuple[str, ...]
    known_hosts_files: tuple[str, ...]  # expanded
    proxy_jump: str | None
    proxy_command: str | None
    connect_timeout: int | None
    identities_only: bool
    strict_host_key_checking: str
    host_key_alias: str | None
    # Whether User / Port came from the config or command line (not OpenSSH's defaults).
    user_configured: bool = False
    port_configured: bool = False


class _Lookup:
    def __init__(self, config: SshConfig, ctx: Context, alias: str, opts: _Options) -> None:
        self.config = config
        self.ctx = ctx
        self.alias = alias
        self.opts = opts

    def run(self, host: str, final: bool) -> None:
        for f in self.config.files:
            self._read(f, host, final, never=False)

    def _read(self, cfg: ConfigFile, host: str, final: bool, never: bool) -> bool:
        """readconf.c's read_config_file, jumping over blocks that cannot concern ``host``."""
        active = not never
        directives, nxt = cfg.directives, cfg.next_control
        n = len(directives)
        pos = 0
        while pos < n:
            ctrl = nxt[pos]
            if active:
                for d in directives[pos:ctrl]:
                    self._set(d.keyword, d.args)
                    self.opts.where.setdefault(d.keyword, d.where)
            if ctrl >= n:
                break
            d = directives[ctrl]
            if d.names is not None and (never or host not in d.names):
                active = False  # a Host line of other names: nothing until the next visit
                pos = cfg.next_visit(ctrl, host)
                continue
            if d.keyword == "host":
                active = False if never else self._host_matches(host, d.args)
            elif d.keyword == "match":
                result = self._match(d, host, final)
                active = False if never else result
            else:  # include
                outer = active
                for inc in d.included:
                    self._read(inc, host, final, never=not outer)
                active = outer
            pos = ctrl + 1
        return active

    @staticmethod
    def _host_matches(host: str, patterns: Sequence[str]) -> bool:
        active = False
        for arg in patterns:
            negated = arg.startswith("!")
            if match_pattern(host, arg[1:] if negated else arg):
                if negated:
                    return False
                active = True
        return active

    def _set(self, kw: str, args: tuple[str, ...]) -> None:
        o = self.opts
        if kw == "identityfile":
            if args[0] not in o.identity and len(o.identity) < _MAX_FILES:
                o.identity.append(args[0])
        elif kw == "certificatefile":
            if args[0] not in o.certificates and len(o.certificates) < _MAX_FILES:
                o.certificates.append(args[0])
        elif kw == "userknownhostsfile":
            if o.known_hosts is None:
                o.known_hosts = list(args)
        elif kw == "canonicaldomains":
            o.values.setdefault(kw, " ".join(args))
        elif kw == "proxycommand":
            if o.proxy_command is None and "proxyjump" not in o.values:
                o.proxy_command = args[0]
        elif kw == "proxyjump":
            if o.proxy_command is None and "proxyjump" not in o.values:
                o.values["proxyjump"] = args[0].split("#", 1)[0].rstrip()
        elif kw in _SINGLE:
            o.values.setdefault(kw, args[0])

    def _match(self, d: Directive, host_arg: str, final: bool) -> bool:
        o = self.opts
        port = o.values.get("port")
        ruser = o.values.get("user") or self.ctx.local_user
        if final:
            host = o.values["hostname"]
        elif "hostname" in o.values:
            host = self._expand_hostname(
                o.values["hostname"], host_arg, o.where.get("hostname", d.where)
            )
        else:
            host = host_arg
        result = True
        for c in d.criteria:
            if c.name == "all":
                return not c.negate if result else False
            if c.name in ("canonical", "final"):
                if c.name == "final":
                    o.want_final = True
                if final == c.negate:
                    result = False
                continue
            if c.name == "host":
                hit = match_pattern_list(host.lower(), c.arg, True)
            elif c.name == "originalhost":
                hit = match_pattern_list(self.alias.lower(), c.arg, True)
            elif c.name == "user":
                hit = match_pattern_list(ruser, c.arg, False)
            elif c.name == "localuser":
                hit = match_pattern_list(self.ctx.local_user, c.arg, False)
            elif c.name == "exec":
                if not result:
                    continue
                hit = self._exec(c.arg, host, str(a2port(port) if port else 22), ruser, d.where)
            else:  # localnetwork
                raise HostProblem(f"Match {c.name} is not supported by pinmgr", d.where)
            if hit == c.negate:
                result = False
        return result

    def _exec(self, command: str, host: str, port: str, ruser: str, where: Location) -> bool:
        if not self.ctx.allow_exec:
            raise HostProblem(
                f"Match exec not run (it runs a local command; set {MATCH_EXEC_ENV}=1 to allow it)",
                where,
            )
        tokens = self._tokens(host, port, ruser, "")
        cmd = expand_tokens(command, tokens, where, dollar=False)
        done = subprocess.run(  # noqa: S602 - OpenSSH runs it with the user's shell too
            command if cmd is None else cmd,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return done.returncode == 0

    def _tokens(self, host: str, port: str, ruser: str, jump: str) -> dict[str, str]:
        local = self.ctx.local_host
        conn = hashlib.sha1(f"{local}{host}{port}{ruser}{jump}".encode()).hexdigest()  # noqa: S324
        return {
            "%": "%",
            "C": conn,
            "L": local.split(".", 1)[0],
            "d": self.ctx.home,
            "h": host,
            "i": str(self.ctx.uid),
            "k": self.opts.values.get("hostkeyalias") or host,
            "l": local,
            "n": self.alias,
            "p": port,
            "r": ruser,
            "u": self.ctx.local_user,
            "j": jump,
        }

    def _expand_hostname(self, value: str, host: str, where: Location) -> str:
        out = expand_tokens(value, {"%": "%", "h": host}, where, dollar=False)
        assert out is not None
        return out


def expand_tokens(
    value: str,
    tokens: Mapping[str, str],
    where: Location,
    *,
    dollar: bool,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """OpenSSH's percent (and ``${VAR}``) expansion; an unknown token is a host problem."""
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if dollar and c == "$" and value[i + 1 : i + 2] == "{":
            end = value.find("}", i + 2)
            name = value[i + 2 : end] if end > 0 else ""
            if end < 0 or not name or env is None or name not in env:
                raise HostProblem(
                    f"environment variable ${{{name}}} has no value in {value!r}", where
                )
            out.append(env[name])
            i = end + 1
            continue
        if c == "%":
            key = value[i + 1 : i + 2]
            if key not in tokens:
                raise HostProblem(f"unknown token %{key} in {value!r}", where)
            out.append(tokens[key])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _tilde(path: str, home: str) -> str:
    """``~`` and ``~/x`` → home, ``~user/x`` → that user's home (as tilde_expand_filename)."""
    if not path.startswith("~"):
        return path
    name, slash, rest = path[1:].partition("/")
    if not name:
        base = home
    else:
        try:
            base = pwd.getpwnam(name).pw_dir
        except KeyError:
            return path
    return base.rstrip("/") + "/" + rest if slash else base


# --- ProxyJump ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    user: str | None
    host: str
    port: int | None


def parse_hop(spec: str, where: Location) -> Hop:
    """One ``[user@]host[:port]`` (``[v6]:port``, ``ssh://user@host:port``) ProxyJump hop."""
    text = spec.strip()
    if text.lower().startswith("ssh://"):
        text = text[6:].rstrip("/")
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not user:
            raise _error(f"invalid ProxyJump {spec!r}", where)
    port_text = ""
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        if tail and not tail.startswith(":"):
            raise _error(f"invalid ProxyJump {spec!r}", where)
        port_text = tail[1:]
    else:
        host, _, port_text = text.partition(":")
    port = a2port(port_text) if port_text else None
    if not host or (port_text and port is None):
        raise _error(f"invalid ProxyJump {spec!r}", where)
    return Hop(user, host, port)


# --- lookup ---------------------------------------------------------------------------------


def lookup(
    config: SshConfig,
    alias: str,
    *,
    user: str | None = None,
    port: int | None = None,
    identity: Sequence[str] = (),
    jump: str | None = None,
    ctx: Context | None = None,
    where: Location | None = None,
) -> Resolved:
    """What ``ssh [-l user] [-p port] [-i ...] [-J jump] alias`` would use.

    Raises ``HostProblem`` when this host cannot be resolved (unknown ``%`` token in its
    HostName, a Match criterion pinmgr does not run): the config is fine for other hosts.
    """
    ctx = ctx or default_context()
    opts = _Options()
    if user:
        opts.values["user"] = user
    if port:
        opts.values["port"] = str(port)
    opts.identity.extend(identity)
    if jump:
        opts.values["proxyjump"] = jump
    at = where or Location(config.path or alias, 1)
    run = _Lookup(config, ctx, alias, opts)
    run.run(alias, final=False)
    host = alias
    if "hostname" in opts.values:
        host = run._expand_hostname(opts.values["hostname"], alias, opts.where.get("hostname", at))
    host = host.lower()
    canon = opts.values.get("canonicalizehostname", "no").lower()
    _refuse_dns_canonicalisation(opts, host, canon, at)
    if opts.want_final or canon in ("yes", "always"):
        opts.values["hostname"] = host
        run.run(host, final=True)
    opts.values["hostname"] = host
    port_value = a2port(opts.values["port"]) if "port" in opts.values else 22
    ruser = opts.values.get("user") or ctx.local_user
    jump_spec = opts.values.get("proxyjump")
    if jump_spec is not None and jump_spec.lower() == "none":
        jump_spec = None
    jump_host = parse_hop(jump_spec.rsplit(",", 1)[-1], at).host if jump_spec else ""
    tokens = run._tokens(host, str(port_value), ruser, jump_host)
    known = opts.known_hosts if opts.known_hosts is not None else list(DEFAULT_KNOWN_HOSTS)
    known_expanded = tuple(
        expand_tokens(_tilde(k, ctx.home), tokens, at, dollar=True, env=ctx.env) or k for k in known
    )
    timeout = opts.values.get("connecttimeout")
    return Resolved(
        alias=alias,
        hostname=host,
        user=ruser,
        port=port_value or 22,
        identity_files=tuple(opts.identity) or DEFAULT_IDENTITY_FILES,
        identity_configured=bool(opts.identity),
        certificate_files=tuple(opts.certificates),
        known_hosts_files=known_expanded,
        proxy_jump=jump_spec,
        proxy_command=opts.proxy_command if opts.proxy_command not in (None, "none") else None,
        connect_timeout=_convtime(timeout) if timeout else None,
        identities_only=_BOOL.get(opts.values.get("identitiesonly", "no").lower(), False),
        strict_host_key_checking=_STRICT.get(
            opts.values.get("stricthostkeychecking", "ask").lower(), "ask"
        ),
        host_key_alias=opts.values.get("hostkeyalias"),
        user_configured="user" in opts.values,
        port_configured="port" in opts.values,
    )


def _refuse_dns_canonicalisation(opts: _Options, host: str, canon: str, at: Location) -> None:
    """Where ssh would look names up in DNS (CanonicalDomains), pinmgr cannot agree: say so."""
    domains = opts.values.get("canonicaldomains", "none").lower()
    proxied = "proxyjump" in opts.values or opts.proxy_command not in (None, "none")
    wanted = canon == "always" or (canon == "yes" and not proxied)
    if wanted and domains != "none" and host.count(".") <= 1 and not host.endswith("."):
        raise HostProblem(
            "CanonicalizeHostname with CanonicalDomains needs DNS lookups; "
            "pinmgr does not canonicalise host names",
            opts.where.get("canonicalizehostname", at),
        )


def expand_path(path: str, resolved: Resolved, ctx: Context, where: Location) -> str:
    """An IdentityFile / CertificateFile as ssh opens it: ``~``, then ``%`` and ``${VAR}``."""
    jump_host = (
        parse_hop(resolved.proxy_jump.rsplit(",", 1)[-1], where).host if resolved.proxy_jump else ""
    )
    run = _Lookup(
        SshConfig(()),
        ctx,
        resolved.alias,
        _Options(
            values={"hostkeyalias": resolved.host_key_alias} if resolved.host_key_alias else {}
        ),
    )
    tokens = run._tokens(resolved.hostname, str(resolved.port), resolved.user, jump_host)
    out = expand_tokens(_tilde(path, ctx.home), tokens, where, dollar=True, env=ctx.env)
    return out if out is not None else path


def endpoint(resolved: Resolved, ctx: Context, where: Location) -> SshEndpoint:
    """The model value a transport reads (paths expanded; no files means OpenSSH defaults)."""
    ids = resolved.identity_files if resolved.identity_configured else ()
    return SshEndpoint(
        alias=resolved.alias,
        address=resolved.hostname,
        port=resolved.port,
        user=resolved.user,
        identity_files=tuple(expand_path(p, resolved, ctx, where) for p in ids),
        certificate_files=tuple(
            expand_path(p, resolved, ctx, where) for p in resolved.certificate_files
        ),
        identities_only=resolved.identities_only,
        known_hosts_files=resolved.known_hosts_files,
        connect_timeout=float(resolved.connect_timeout) if resolved.connect_timeout else None,
        strict_host_key_checking=resolved.strict_host_key_checking,
        proxy_command=resolved.proxy_command,
    )


def route(
    config: SshConfig,
    alias: str,
    *,
    user: str | None = None,
    port: int | None = None,
    identity: Sequence[str] = (),
    jump: str | None = None,
    ctx: Context | None = None,
    where: Location | None = None,
) -> SshRoute:
    """The target and every jump host before it, each resolved as OpenSSH's ``-J`` does.

    A ProxyJump ``a,b`` reaches ``b`` through ``a``; the first hop follows its own ProxyJump
    from the config (the ``ssh`` OpenSSH starts for it reads the same config), later hops
    do not (they get ``-J`` with the hops before them).
    """
    return route_and_lookup(
        config, alias, user=user, port=port, identity=identity, jump=jump, ctx=ctx, where=where
    )[0]


def route_and_lookup(
    config: SshConfig,
    alias: str,
    *,
    user: str | None = None,
    port: int | None = None,
    identity: Sequence[str] = (),
    jump: str | None = None,
    ctx: Context | None = None,
    where: Location | None = None,
) -> tuple[SshRoute, Resolved]:
    """``route`` and the target's ``lookup`` together (one pass over the config, not two)."""
    ctx = ctx or default_context()
    at = where or Location(config.path or alias, 1)
    return _route(config, alias, user, port, identity, jump, ctx, at, 0)


def _route(
    config: SshConfig,
    alias: str,
    user: str | None,
    port: int | None,
    identity: Sequence[str],
    jump: str | None,
    ctx: Context,
    at: Location,
    depth: int,
) -> tuple[SshRoute, Resolved]:
    if depth > _MAX_JUMP_DEPTH:
        raise HostProblem(
            f"ProxyJump chain of {alias!r} is longer than {_MAX_JUMP_DEPTH} hops (a loop?)", at
        )
    found = lookup(
        config, alias, user=user, port=port, identity=identity, jump=jump, ctx=ctx, where=at
    )
    target = endpoint(found, ctx, at)
    if not found.proxy_jump:
        return SshRoute(target, (), config.path), found
    specs = found.proxy_jump.split(",")
    last = parse_hop(specs[-1], at)
    if (last.host, last.port or 22, last.user or found.user) == (
        found.hostname,
        found.port,
        found.user,
    ):
        raise HostProblem(f"jumphost loop via {last.host}", at)  # ssh's own check and words
    hops: list[SshEndpoint] = []
    for index, spec in enumerate(specs):
        hop = parse_hop(spec, at)
        if index == 0:
            first, _ = _route(config, hop.host, hop.user, hop.port, (), None, ctx, at, depth + 1)
            hops.extend((*first.jumps, first.target))
        else:
            earlier = ",".join(specs[:index])
            found_hop = lookup(
                config, hop.host, user=hop.user, port=hop.port, jump=earlier, ctx=ctx, where=at
            )
            hops.append(endpoint(found_hop, ctx, at))
    return SshRoute(target, tuple(hops), config.path), found
