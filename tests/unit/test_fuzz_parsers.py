"""Property tests: every parser of untrusted input returns a result or its documented error.

Arbitrary bytes (and text built to reach deep: valid probe markers with this run's nonce, TOML
tables, ssh_config keywords, digit runs past Python's 4,300-digit int limit) go into each
parser; any exception other than the documented one fails. Runs are derandomized (the same
examples every run, so CI is reproducible), modest (a few hundred examples each) and keep no
example database on disk.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pinmgr.collectors import parsers
from pinmgr.collectors.parsers import ProbeIncomplete, ProbeOutputError, parse_probe
from pinmgr.collectors.probe import (
    MARKER,
    PIP_PREFIX,
    SECTION_DPKG,
    SECTION_DPKG_ARCH,
    SECTION_OS_RELEASE,
    SECTION_RPM,
)
from pinmgr.errors import InventoryError, LockfileError, VersionError
from pinmgr.inventory import native, ssh_config
from pinmgr.lockfile.load import decode, load, loads
from pinmgr.model import Ecosystem, Host, HostSnapshot, Location, Lockfile
from pinmgr.versions import compare, sort_key, validate
from pinmgr.versions.policy import evaluate, parse_policy

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
NONCE = "n0nce"
HOST = Host("web1", "prod", ("app",), pip=("/usr/bin/python3", "/srv/venv"))

# ---------------------------------------------------------------- building blocks

# Text that arrives from a host: bytes decoded the way the collectors decode them.
host_text = st.binary(max_size=200).map(lambda b: b.decode("utf-8", "backslashreplace"))
tricky_chars = st.sampled_from(
    ["\t", " ", "\n", "\r", "\x00", "\x1b", "\x85", "\u2028", "\\", "'", '"', "=", ":", "#"]
)
fragment = st.one_of(
    host_text,
    st.text(max_size=30),
    tricky_chars,
    st.sampled_from(["0", "00", "1", "~", "^", "-", ".", "+", "a", "ii ", "1:", "0~"]),
    # Past Python's int-from-string limit (built lazily: a 5 kB constant bloats reprs).
    st.sampled_from([4301, 5000]).map(lambda n: "9" * n),
)
words = st.lists(fragment, max_size=6).map("".join)


def _line(fields: list[str]) -> str:
    return "\t".join(fields)


name_text = st.one_of(st.sampled_from(["bash", "libssl3:amd64", "Django", "gpg-pubkey"]), words)
version_like = st.one_of(
    st.sampled_from(["5.2.15-2+b2", "1:2.36-9", "2.32.3", "0", "1"]),
    words,
)
epoch_text = st.one_of(
    st.sampled_from(["0", "1", "(none)", "00", "²", "٣"]),  # str.isdigit() takes '²' and '٣'
    st.just(4301).map(lambda n: "9" * n),
    words,
)
dpkg_line = st.one_of(
    st.lists(words, min_size=0, max_size=5).map(_line),
    st.tuples(name_text, version_like, st.sampled_from(["ii ", "hi ", "iU ", "rc ", "x"]), words)
    .map(list)
    .map(_line),
    st.tuples(name_text, st.tuples(epoch_text, version_like), words)
    .map(lambda t: [t[0], f"{t[1][0]}:{t[1][1]}-1", t[2]])
    .map(_line),
    st.tuples(name_text, version_like).map(list).map(_line),
)
section_names = st.sampled_from(
    [
        SECTION_OS_RELEASE,
        SECTION_DPKG_ARCH,
        SECTION_DPKG,
        SECTION_RPM,
        f"{PIP_PREFIX}0",
        f"{PIP_PREFIX}1",
        f"{PIP_PREFIX}7",
        "dnf-available",
        "apt-available",
        "junk",
    ]
)
os_release_line = st.one_of(
    st.tuples(st.sampled_from(["ID", "VERSION_ID", "NAME", "ID_LIKE"]), words).map(
        lambda kv: f"{kv[0]}={kv[1]}"
    ),
    words,
)


@st.composite
def probe_output(draw: st.DrawFn) -> bytes:
    """Sections with valid markers, wrong markers, stray bytes and package-like lines."""
    prefix = f"{MARKER} {NONCE} "
    out: list[bytes] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 9))
        name = draw(section_names)
        if kind <= 3:
            out.append(f"{prefix}begin {name}".encode())
            lines = draw(st.lists(st.one_of(dpkg_line, os_release_line), max_size=6))
            out += [line.encode("utf-8", "surrogatepass") for line in lines]
            if draw(st.booleans()):
                rc = draw(st.sampled_from(["0", "1", "127", "1000", "x"]))
                out.append(f"{prefix}end {name} {rc}".encode())
        elif kind == 4:
            out.append(f"{prefix}done".encode())
        elif kind == 5:
            out.append(f"{MARKER} other {draw(words)}".encode("utf-8", "surrogatepass"))
        else:
            out.append(draw(st.binary(max_size=80)))
    return b"\n".join(out)


# ---------------------------------------------------------------- probe output and its sections


def test_probe_output_parses_or_says_no_probe_output() -> None:
    outcomes: set[str] = set()

    @FUZZ
    @given(output=probe_output(), stderr=st.binary(max_size=100), rc=st.integers(-1, 300))
    def run(output: bytes, stderr: bytes, rc: int) -> None:
        try:
            snap = parse_probe(HOST, output, NONCE, stderr=stderr, rc=rc)
        except ProbeOutputError:
            outcomes.add("no probe output")
            return
        except ProbeIncomplete as exc:
            assert str(exc)
            assert len(exc.warnings) <= parsers.MAX_WARNINGS + 1
            outcomes.add("incomplete")
            return
        assert isinstance(snap, HostSnapshot)
        assert len(snap.warnings) <= parsers.MAX_WARNINGS + 1
        outcomes.add("snapshot")

    run()
    # The strategy must get past the markers into the section parsers, or it proves little
    # (a whole valid probe is rare here; the section parsers are fuzzed one by one below).
    assert {"no probe output", "incomplete"} <= outcomes


@FUZZ
@given(output=st.binary(max_size=2000))
def test_probe_output_of_arbitrary_bytes(output: bytes) -> None:
    with contextlib.suppress(ProbeOutputError, ProbeIncomplete):
        parse_probe(HOST, output, NONCE)


@FUZZ
@given(lines=st.lists(dpkg_line, max_size=20), arch=words)
def test_package_sections(lines: list[str], arch: str) -> None:
    warn = parsers._Warnings()
    found = [
        *parsers.parse_dpkg(lines, arch, warn),
        *parsers.parse_rpm(lines, warn),
        *parsers.parse_pip(lines, "/srv/venv", warn),
    ]
    parsers.dpkg_native_arch(lines)
    assert all(p.name for p in found)


@FUZZ
@given(lines=st.lists(os_release_line, max_size=12))
def test_os_release_section(lines: list[str]) -> None:
    parsers.parse_os_release(lines, parsers._Warnings())


# ---------------------------------------------------------------- lockfile

toml_value = st.one_of(
    words.map(lambda w: '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    words.map(lambda w: "'" + w + "'"),
    st.sampled_from(["1", "1.5", "true", "2026-12-31", "[]", "{}", '"\\u001b"', '"\\x"']),
)
toml_key = st.one_of(
    st.sampled_from(["schema", "bash", "Django", "package", "reason", "expires", "role"]),
    words.map(lambda w: '"' + w.replace("\\", "\\\\").replace('"', "") + '"'),
)
toml_header = st.sampled_from(
    [
        '[roles.app."debian-12".deb]',
        '[roles.app."rocky-9".rpm]',
        '[shared."debian-12".pip]',
        "[[waivers]]",
        "[roles]",
        '[roles.app."debian-12"]',
        "[shared]",
        "[x.y]",
    ]
)
toml_line = st.one_of(
    toml_header,
    st.tuples(toml_key, toml_value).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    words,
)


@st.composite
def lockfile_bytes(draw: st.DrawFn) -> bytes:
    lines = ["schema = 1"] if draw(st.booleans()) else []
    lines += draw(st.lists(toml_line, max_size=12))
    text = "\n".join(lines)
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 4)) == 0:
        raw += draw(st.binary(max_size=20))
    return raw


@FUZZ
@given(raw=st.one_of(lockfile_bytes(), st.binary(max_size=300)))
def test_lockfile_loader(raw: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("lock") / "pinmgr.toml"
    path.write_bytes(raw)
    try:
        lock = load(path)
    except LockfileError as exc:
        assert str(exc)
        return
    assert isinstance(lock, Lockfile)
    for pin in lock.pins:  # whatever loads is valid by the lockfile's own rules
        parse_policy(pin.ecosystem, pin.spec)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_lockfile_text_loader(raw: bytes) -> None:
    with contextlib.suppress(LockfileError):
        loads(decode(raw, "<fuzz>"))


# ---------------------------------------------------------------- inventory sources

inv_line = st.one_of(
    st.sampled_from(
        [
            "[environments.prod]",
            "[[environments.prod.hosts]]",
            "[[environments.prod.sources]]",
            '[environments."x y"]',
            "[defaults]",
            'transport = "local"',
            'roles = ["app"]',
            'name = "web1"',
            'type = "ssh_config"',
            'path = "/nonexistent"',
            "port = 99999",
        ]
    ),
    st.tuples(toml_key, toml_value).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    words,
)


@FUZZ
@given(lines=st.lists(inv_line, max_size=12))
def test_native_inventory_loader(
    lines: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("inv") / "inventory.toml"
    path.write_bytes("\n".join(lines).encode("utf-8"))  # invalid UTF-8: see the test below
    with contextlib.suppress(InventoryError):
        native.load(path)


def test_native_inventory_loader_with_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "inventory.toml"
    path.write_bytes(b'[environments.prod]\nhosts = ["web\xc3("]\n')
    with pytest.raises(InventoryError, match="not valid UTF-8") as caught:
        native.load(path)
    assert caught.value.location == Location(str(path), 2, 14)


ssh_keyword = st.sampled_from(
    [
        "Host",
        "HostName",
        "User",
        "Port",
        "ProxyJump",
        "IdentityFile",
        "UserKnownHostsFile",
        "ProxyCommand",
        "StrictHostKeyChecking",
        "hostname",
        "port",
    ]
)
ssh_line = st.one_of(
    st.tuples(ssh_keyword, st.sampled_from([" ", "=", " = ", "\t"]), words).map("".join),
    st.tuples(st.sampled_from(["Match", "match", "Host"]), st.just(" "), words).map("".join),
    words,
)


def _reads_files(text: str) -> bool:
    """Include is left out of the fuzzing: it would read this machine's files (odd Include
    lines are tested below)."""
    return any("include" in line.lower() for line in text.splitlines())


@FUZZ
@given(lines=st.lists(ssh_line, max_size=10))
def test_ssh_config_source(lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    text = "\n".join(lines)
    assume(not _reads_files(text))
    path = tmp_path_factory.mktemp("ssh") / "config"
    path.write_bytes(text.encode("utf-8"))
    with contextlib.suppress(InventoryError):
        ssh_config.load(path, "prod", {"*": "app"})


@FUZZ
@given(raw=st.binary(max_size=200))
def test_ssh_config_source_with_arbitrary_bytes(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any bytes: hosts and problems, or one InventoryError at file:line, nothing else."""
    assume(b"include" not in raw.lower())
    path = tmp_path_factory.mktemp("ssh") / "config"
    path.write_bytes(raw)
    try:
        ssh_config.load(path, "prod", {"*": "app"})
    except InventoryError as exc:
        assert exc.location is not None and exc.location.file == str(path)
        assert "\n" not in exc.message


def test_ssh_config_source_with_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_bytes(b"Host web1\n  HostName 10.0.0.1\n  User d\xc3(\n")
    with pytest.raises(InventoryError, match="not valid UTF-8") as caught:
        ssh_config.load(path, "prod", {"*": "app"})
    assert caught.value.location == Location(str(path), 3, 9)


@pytest.mark.parametrize("include", ["Include ~\x01", "Include ~\x00", "Include \x00/x"])
def test_ssh_config_source_with_an_odd_include(tmp_path: Path, include: str) -> None:
    """No such user / no such file: nothing included (as glob finds nothing); a NUL is the
    config's error at its line."""
    path = tmp_path / "config"
    path.write_text(f"Host web1\n  HostName 10.0.0.1\n{include}\n")
    if "\x00" in include:
        with pytest.raises(InventoryError, match="NUL byte") as caught:
            ssh_config.load(path, "prod", {"*": "app"})
        assert caught.value.location == Location(str(path), 3, 1)
    else:
        (host,) = ssh_config.load(path, "prod", {"*": "app"}).hosts
        assert host.address == "10.0.0.1"


def test_ssh_config_source_with_a_match_block(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host web1\n  HostName 10.0.0.1\nMatch all\n  User deploy\n")
    (host,) = ssh_config.load(path, "prod", {"*": "app"}).hosts
    assert (host.address, host.user) == ("10.0.0.1", "deploy")


# ---------------------------------------------------------------- versions

version_text = st.one_of(
    words,
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.from_regex(r"[0-9]{1,3}:[0-9.~+a-z]{1,12}(-[0-9a-z.~+]{1,8})?", fullmatch=True),
    st.tuples(st.sampled_from(["", "1:", "1.", "0:0"]), st.sampled_from([4300, 4301, 5000])).map(
        lambda t: t[0] + "1" * t[1]
    ),
)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


@FUZZ
@given(eco=st.sampled_from(list(Ecosystem)), a=version_text, b=version_text)
def test_version_compare_and_validate(eco: Ecosystem, a: str, b: str) -> None:
    for v in (a, b):
        with contextlib.suppress(VersionError):
            validate(eco, v)
    try:
        order = compare(eco, a, b)
    except VersionError:
        return
    assert _sign(compare(eco, b, a)) == -_sign(order)
    ka, kb = sort_key(eco, a), sort_key(eco, b)
    assert _sign((kb < ka) - (ka < kb)) == _sign(order)  # the key agrees with compare


@FUZZ
@given(eco=st.sampled_from(list(Ecosystem)), pin=version_text, installed=version_text)
def test_pin_policies_and_evaluation(eco: Ecosystem, pin: str, installed: str) -> None:
    for text in (pin, f">={pin}", f"{pin}*", f"=={pin}", f"==={pin}", f"<{pin}, !={installed}"):
        try:
            policy = parse_policy(eco, text)
        except VersionError:
            continue
        with contextlib.suppress(VersionError):
            evaluate(eco, policy, installed)


def test_rpm_epochs_found_by_fuzzing() -> None:
    """'²'.isdigit() is True but int('²') raises; 4,301 digits exceed int()'s limit."""
    warn = parsers._Warnings()
    lines = ["bash\t²:1.0-1\tx86_64", f"bash\t{'0' * 4400}7:1.0-1\tx86_64", "zsh\t000:5.8-1\tx"]
    found = parsers.parse_rpm(lines, warn)
    assert [p.version for p in found] == ["7:1.0-1", "5.8-1"]
    assert warn.kept == ["rpm: version is not epoch:version-release: bash\\t²:1.0-1\\tx86_64"]
