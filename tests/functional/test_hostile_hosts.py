"""Hosts that misbehave on purpose (issue 10): real sshd hosts whose ``ForceCommand`` replays a
hostile variant of the probe's output instead of running it, over both SSH transports, every
report format and ``accept --yes``.

Each lab host runs ``HOSTILE`` (below) for one variant: it reads the probe the client sends on
stdin, takes the nonce from it (so markers are valid where the variant wants them) and prints a
Debian 12 host's output with one thing wrong. What must hold for every variant and transport:
the failure or finding kind, the exit code, parseable JSON / JUnit (against the vendored XSD) /
SARIF (against the vendored schema), no raw control byte in any output, no line starting with
``::`` made of host data, and a lockfile byte-identical after ``accept --yes``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from tests.hostlab import BASE_PACKAGES, HostSpec, Lab, LabFactory

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "data" / "schemas"
B = BASE_PACKAGES["debian-12"]
PINNED = ("bash", "nginx", "openssl")
ROLE = "web"  # not "app": the lab gives app hosts a virtualenv, which these hosts never list
CAP = 64 * 1024 * 1024  # the transports' real byte cap (SshOptions.max_bytes default)
OUR_COMMAND = re.compile(
    r"::(error|warning|notice) (file=[^,:]+,line=\d+,col=\d+,)?"
    r"title=([a-z-]+|host warnings) h-[a-z0-9-]+::"
)
"""The only way a github-format line may start: pinmgr's own workflow command (docs/ci.md),
titled with a finding kind (or "host warnings") and the inventory's host name."""

# The replayed host. VARIANT and the rows are filled in per host; everything else is fixed.
HOSTILE = r"""#!/usr/bin/python3
import os, re, signal, sys, time

VARIANT = {variant!r}
ROWS = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in {rows!a}]
out = sys.stdout.buffer
probe = sys.stdin.buffer.read()  # the client closes stdin once the probe is sent
found = re.search(rb"m='@@pinmgr ([0-9a-f]+)'", probe)
M = b"@@pinmgr " + (found.group(1) if found else b"no-nonce")


def begin(name):
    out.write(M + b" begin " + name + b"\n")


def end(name, rc=0):
    out.write(b"\n" + M + b" end " + name + b" " + str(rc).encode() + b"\n")


def row(name, version):
    return name + b"\t" + version + b"\tii \tamd64\n"


if VARIANT == "trickle":  # the os-release section, one byte a second (bounded: 120 s)
    for byte in (M + b" begin os-release\nID=debian\n")[:120]:
        out.write(bytes([byte]))
        out.flush()
        time.sleep(1)
    sys.exit(0)

begin(b"os-release")
out.write(b'ID=debian\nVERSION_ID="12"\n')
end(b"os-release")
begin(b"dpkg")
rows = [row(n, v) for n, v in ROWS]
if VARIANT == "dropped":  # half the rows, then the connection goes away (sshd killed)
    out.write(b"".join(rows[:2]))
    out.flush()
    time.sleep(0.3)
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)
    sys.exit(0)
if VARIANT == "large":  # 200 MiB of well-formed rows: the byte cap must end it
    chunk = row(b"pad", b"1.0-1") * 65536
    for _ in range(200 * 1024 * 1024 // len(chunk) + 1):
        out.write(chunk)
    sys.exit(0)
if VARIANT == "duplicates":
    rows += [row(b"nginx", ROWS[1][1])] * 20000
out.write(b"".join(rows))
if VARIANT == "failing-section":
    sys.stderr.buffer.write(b"dpkg-query: error: database is locked\n")
    end(b"dpkg", 2)
else:
    end(b"dpkg")
if VARIANT != "no-final-marker":
    out.write(M + b" done\n")
out.flush()
"""


@dataclass(frozen=True)
class Variant:
    """One hostile host: what it adds to the rows, and what pinmgr must make of it."""

    name: str
    kinds: frozenset[str]  # every finding kind expected for the host
    exit_code: int
    extra: tuple[tuple[bytes, bytes], ...] = ()
    nginx: bytes = B["nginx"].encode()
    reason: str = ""  # expected in the host failure's reason
    timeout: str = "60"
    # accept --yes must refuse (exit 2) with this text: the drifted version may not be written.
    accept_refusal: str = ""

    def rows(self) -> list[tuple[bytes, bytes]]:
        base = [
            (b"bash", B["bash"].encode()),
            (b"nginx", self.nginx),
            (b"openssl", B["openssl"].encode()),
            (b"dpkg", B["dpkg"].encode()),
        ]
        return base + list(self.extra)


DATA_KINDS = frozenset({"ok", "unpinned"})

VARIANTS = [
    Variant("dropped", frozenset({"incomplete"}), 3, reason="dpkg: cut short (no end marker)"),
    Variant("no-final-marker", frozenset({"incomplete"}), 3, reason="no final marker"),
    Variant(
        "failing-section",
        frozenset({"incomplete"}),
        3,
        reason="dpkg: probe exited with status 2",
    ),
    Variant(
        "long-version",
        frozenset({"ok", "unpinned", "drift"}),
        1,
        nginx=b"1" * 5000,
        accept_refusal="invalid deb version",
    ),
    Variant("large", frozenset({"collect-error"}), 3, reason=f"output over {CAP} bytes"),
    Variant("invalid-utf8", DATA_KINDS, 0, extra=((b"bad\xff\xfename", b"1.0\xfe-1"),)),
    Variant(
        "escapes", DATA_KINDS, 0, extra=((b"evil\x1b]8;;http://x\x07pkg\x1b[2J", b"1.0\x07-1"),)
    ),
    Variant("markup", DATA_KINDS, 0, extra=((b"[red]x[/red]", b"[bold]1[/bold]"),)),
    Variant(
        "ci-commands",
        DATA_KINDS,
        0,
        extra=((b"::error ::pwned", b"1.0-1"), (b"::warning file=x::pwned", b"1.0-1")),
    ),
    Variant("cr-in-name", DATA_KINDS, 0, extra=((b"cr\rname", b"1.0-1"),)),
    Variant(
        "lf-in-name",
        frozenset({"incomplete"}),
        3,
        extra=((b"lf\nname", b"1.0-1"),),
        reason="dpkg: 1 line does not parse",
    ),
    Variant("duplicates", DATA_KINDS, 0),
    Variant("trickle", frozenset({"timeout"}), 3, timeout="3", reason="within 3s"),
]
TRANSPORTS = ("ssh", "openssh")


def hostile_script(variant: Variant) -> str:
    # Rows travel as latin-1 text, which round-trips every byte value.
    rows = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in variant.rows()]
    return HOSTILE.format(variant=variant.name, rows=rows)


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    return hostlab(
        [HostSpec(f"h-{v.name}", role=ROLE, force_command=hostile_script(v)) for v in VARIANTS],
        timeout=90,
    )


def pinmgr(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real CLI; HOME is a temp dir so the user's ~/.ssh is never read or written."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(home)}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )


def setup(lab: Lab, tmp_path: Path, variant: Variant, transport: str) -> tuple[Path, Path, Path]:
    lock = tmp_path / "pinmgr.toml"
    pins = "".join(f'{n} = "{B[n]}"\n' for n in PINNED)
    lock.write_text(f'schema = 1\n\n# hostile host test\n[roles.{ROLE}."debian-12".deb]\n{pins}')
    inv = lab.write_inventory(tmp_path / "inventory.toml", [lab.hosts[f"h-{variant.name}"]])
    # accept has no --transport: the inventory names it (as a user's would).
    inv.write_text(
        inv.read_text().replace("\nport = 22\n", f'\nport = 22\ntransport = "{transport}"\n')
    )
    known = tmp_path / "known_hosts"
    known.write_bytes(lab.known_hosts.read_bytes())
    return lock, inv, known


FORMATS = ("json", "junit", "sarif", "markdown", "github")


def unsafe_text(name: str, text: bytes) -> list[str]:
    """Problems: a raw control byte, invalid UTF-8, a line starting with ``::`` that is not
    pinmgr's own workflow command (github format only)."""
    bad = sorted({b for b in text if (b < 0x20 and b not in b"\n\t") or b == 0x7F})
    if bad:
        return [f"{name}: raw control bytes {bad}"]
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{name}: not UTF-8: {exc}"]
    return [
        f"{name}: {line!r}"
        for line in decoded.splitlines()
        if line.startswith("::") and not (name == "github" and OUR_COMMAND.match(line))
    ]


_SARIF: Any = None


def sarif_validator() -> Any:
    global _SARIF
    if _SARIF is None:
        schema = json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))
        _SARIF = jsonschema.validators.validator_for(schema)(schema)
    return _SARIF


CASES = [
    pytest.param(
        v,
        t,
        id=f"{v.name}-{t}",
    )
    for v in VARIANTS
    for t in TRANSPORTS
]


@pytest.mark.parametrize(("variant", "transport"), CASES)
def test_hostile_host(lab: Lab, tmp_path: Path, variant: Variant, transport: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    lock, inv, known = setup(lab, tmp_path, variant, transport)
    before = lock.read_bytes()
    outputs = {f: tmp_path / f"report.{f}" for f in FORMATS}
    result = pinmgr(
        home, "check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known), "-q",
        "--unpinned", "--transport", transport, "--timeout", variant.timeout,
        "--connect-timeout", "5", "-f", "table",
        *[a for f, p in outputs.items() for a in ("-o", f"{f}={p}")],
    )  # fmt: skip
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert result.returncode == variant.exit_code, result.stderr.decode(errors="replace")

    doc = json.loads(outputs["json"].read_bytes())
    host = f"h-{variant.name}"
    findings = [f for f in doc["findings"] if f["host"] == host]
    assert {f["kind"] for f in findings} == variant.kinds, findings
    if variant.reason:
        (failure,) = findings
        assert variant.reason in failure["reason"], failure["reason"]
    pinned = {f["package"]: f["kind"] for f in findings if f["package"] in PINNED}
    if variant.kinds == DATA_KINDS:
        assert pinned == dict.fromkeys(PINNED, "ok")  # nothing after a cut turns into missing
    assert "missing" not in {f["kind"] for f in findings}

    junit = outputs["junit"].read_bytes()
    ET.fromstring(junit)
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(junit.decode())
    sarif_validator().validate(json.loads(outputs["sarif"].read_bytes()))
    texts = {"table": result.stdout, "stderr": result.stderr}
    texts |= {f: p.read_bytes() for f, p in outputs.items()}
    problems = [p for name, text in texts.items() for p in unsafe_text(name, text)]
    assert not problems, problems

    accepted = pinmgr(
        home, "accept", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known), "-q",
        "--yes", "--timeout", variant.timeout, "--connect-timeout", "5",
    )  # fmt: skip
    assert b"Traceback" not in accepted.stderr
    assert lock.read_bytes() == before
    if variant.exit_code == 3:
        assert accepted.returncode == 3
        lines = accepted.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        kind = next(iter(variant.kinds))
        assert lines[0].startswith("pinmgr: error: not accepting: a host was not collected")
        assert f"{host} (staging): {kind}: " in lines[0]
    elif variant.accept_refusal:
        assert accepted.returncode == 2, accepted.stderr
        lines = accepted.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert variant.accept_refusal in lines[0]
        assert "the lockfile was not changed" in lines[0]
    else:
        assert accepted.returncode == 0, accepted.stderr
        assert not unsafe_text("accept", accepted.stdout + accepted.stderr)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_duplicate_rows_are_one_warning_over_either_transport(
    lab: Lab, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 repeated rows: a snapshot with each package once and one counted warning."""
    from pinmgr.collectors.collect import probe_host
    from pinmgr.collectors.openssh import OpensshTransport
    from pinmgr.collectors.ssh import SshOptions, SshTransport

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    options = SshOptions(
        known_hosts=None,
        global_known_hosts=None,
        project_known_hosts=str(lab.known_hosts),
        allow_agent=False,
        identity_files=(),
    )
    host = lab.hosts["h-duplicates"].as_host(lab)
    cls = SshTransport if transport == "ssh" else OpensshTransport
    conn = cls(host, options)
    try:
        snap = probe_host(host, conn, timeout=60)
    finally:
        conn.close()
    assert [(p.name, p.version) for p in snap.packages] == sorted(
        (n, B[n]) for n in (*PINNED, "dpkg")
    )
    assert snap.warnings == (
        "dpkg: 20000 duplicate package rows ignored, the first row of each kept "
        "(first duplicate: nginx)",
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_lock_from_an_incomplete_host_refuses(lab: Lab, tmp_path: Path, transport: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    variant = next(v for v in VARIANTS if v.name == "dropped")
    lock, inv, known = setup(lab, tmp_path, variant, transport)
    before = lock.read_bytes()
    result = pinmgr(
        home, "lock", "--from", "h-dropped", "--all", "--yes",
        "-l", str(lock), "-i", str(inv), "--known-hosts", str(known),
    )  # fmt: skip
    assert result.returncode == 3
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "pinmgr: error: not locking: h-dropped (staging) could not be collected: incomplete: "
        "dpkg: cut short (no end marker)"
    )
    assert lines[0].endswith("; the lockfile is unchanged")
    assert lock.read_bytes() == before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_host_key_reason_is_whole(lab: Lab, tmp_path: Path, transport: str) -> None:
    """The real reason from either transport keeps its whole ssh-keyscan command (the old
    200-character cut lost it), on one escaped line, in every format."""
    home = tmp_path / "home"
    home.mkdir()
    variant = next(v for v in VARIANTS if v.name == "markup")
    lock, inv, known = setup(lab, tmp_path, variant, transport)
    known.write_text("")
    out = tmp_path / "report.json"
    result = pinmgr(
        home, "check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known), "-q",
        "--transport", transport, "-f", "github", "-o", f"json={out}",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    (failure,) = json.loads(out.read_bytes())["findings"]
    reason = failure["reason"]
    assert failure["kind"] == "hostkey-unknown"
    address = lab.hosts["h-markup"].address
    assert len(reason) > 200
    assert f" -t ed25519 {address} >> {known}`" in reason, reason
    assert reason.endswith("or use `pinmgr check --accept-new`")
    assert f"{address} >> {known}` or use `pinmgr check --accept-new`" in result.stdout.decode()
    assert known.read_text() == ""
