"""The probe's fast virtualenv listing (no site.py) agrees with importlib.metadata, for real."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr.collectors.local import LocalTransport
from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import META_AWK, build_probe, new_nonce
from pinmgr.model import Ecosystem, Host, TransportKind


def _dist_info(site: Path, name: str, version: str) -> None:
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-this-one\n"
    )


def _importlib_listing(venv: Path) -> set[tuple[str, ...]]:
    """What importlib.metadata sees in ``venv`` (first of a name wins), run as the probe runs."""
    truth = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-I",  # as the probe: no PYTHONPATH, no cwd on the path
            "-c",
            "import importlib.metadata as m\n"
            "seen = {}\n"
            "for d in m.distributions():\n"
            "    n = d.metadata['Name'].lower().replace('_', '-').replace('.', '-')\n"
            "    seen.setdefault(n, d.version)\n"
            "print('\\n'.join(f'{k}\\t{v}' for k, v in sorted(seen.items())))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {tuple(line.split("\t")) for line in truth.splitlines() if line}


def _listing(host: Host, shell: list[str] | None = None) -> set[tuple[str, str]]:
    """What the probe lists, run by the local transport or fed to ``shell -s`` (as over SSH)."""
    nonce = new_nonce()
    script = build_probe(host, nonce)
    if shell is None:
        result = LocalTransport(host).run(script, timeout=60)
        out, err, rc = result.stdout, result.stderr, result.rc
    else:
        argv = shell if shell == ["posh"] else [*shell, "-s"]  # posh reads stdin without -s
        proc = subprocess.run(argv, input=f"{{ {script}\n}}\n".encode(), capture_output=True)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    snap = parse_probe(host, out, nonce, stderr=err, rc=rc)
    assert not [w for w in snap.warnings if "pip" in w], snap.warnings
    return {(p.name, p.version) for p in snap.packages if p.ecosystem is Ecosystem.PIP}


def test_plain_venv_listing_matches_importlib_metadata(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    _dist_info(site, "Requests", "2.31.0")
    _dist_info(site, "zope.interface", "6.1")
    # An old-style develop install: a .pth path line to a dir holding an .egg-info, and a
    # .pth import line (skipped without site.py, as it only runs code).
    develop = tmp_path / "src"
    egg = develop / "myapp.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: myapp\nVersion: 0.3.dev0\n")
    _dist_info(develop, "requests", "1.0")  # shadowed: the site-packages one comes first
    (site / "easy-install.pth").write_text(f"# comment\nimport os\n{develop}\n")
    expected = _importlib_listing(venv)
    as_dir = Host("h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv),))
    as_python = Host(
        "h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv / "bin" / "python"),)
    )
    assert _listing(as_dir) == expected
    assert _listing(as_python) == expected
    assert ("myapp", "0.3.dev0") in expected and ("requests", "2.31.0") in expected


def test_venv_with_system_site_packages_uses_site(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    _dist_info(site, "only-here", "1.0")
    host = Host("h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv),))
    # The system's packages come in through site.py, so the probe must run it here.
    expected = _importlib_listing(venv)
    assert ("only-here", "1.0") in expected
    assert _listing(host) == expected


# --- the awk listing (no interpreter started on the host) ----------------------------------

AWKS = [
    pytest.param(argv, id=argv[0])
    for argv in (["mawk"], ["gawk"], ["original-awk"], ["busybox", "awk"])
]


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("awk", AWKS)
def test_meta_awk_reads_headers_like_the_python_listing(awk: list[str], tmp_path: Path) -> None:
    """The awk program under every awk here (Debian's mawk, gawk, the one true awk, busybox),
    on the header shapes found in the wild, gives what PIP_CODE's header reader gives."""
    if shutil.which(awk[0]) is None:
        pytest.skip(f"{awk[0]} not installed (tests/apt-packages.txt)")
    files = [
        _write(tmp_path / "a.dist-info/METADATA", "Metadata-Version: 2.1\nName: A\nVersion: 1\n"),
        # Headers end at the first blank line: later Name/Version lines are description.
        _write(tmp_path / "b/METADATA", "Name: b-pkg\nSummary: x\n\nVersion: 9\nName: no\n"),
        _write(tmp_path / "c/METADATA", b"Name: c \r\nVersion:\t2.0.post1  \r\n\r\nName: z\r\n"),
        _write(tmp_path / "d/PKG-INFO", "Metadata-Version: 1.0\nVersion: 0.1\nName: d\n"),
        _write(tmp_path / "e.egg-info", "Name: e\nVersion: 3\nName: again\nVersion: 4\n"),
        _write(tmp_path / "f/METADATA", ""),  # empty: nothing
        _write(tmp_path / "g/METADATA", "Name: g\n"),  # no Version and no final blank line
        _write(tmp_path / "h/METADATA", "Name:h\nVersion:5\n   \nName: x\n"),
    ]
    # A glob that matched nothing reaches awk as a literal word: dropped, not fatal.
    unmatched = tmp_path / "*.dist-info" / "METADATA"
    operands = [str(f) for f in files[:3]] + [str(unmatched)] + [str(f) for f in files[3:]]
    out = subprocess.run(
        [*awk, META_AWK, *operands],
        capture_output=True,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    ).stdout.decode()
    assert out.splitlines() == [
        "A\t1",
        "b-pkg\t",
        "c\t2.0.post1",
        "d\t0.1",
        "e\t3",
        "g\t",
        "h\t5",
    ]
    # The Python reader run on the same files agrees line for line.
    python = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _HEADER_READER, *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert python.splitlines() == out.splitlines()


# PIP_CODE's header loop, applied to given files (PIP_CODE itself walks directories).
_HEADER_READER = """\
import sys
for f in sys.argv[1:]:
    d = {}
    with open(f, "rb") as h:
        for line in h:
            if not line.strip():
                break
            k, _, v = line.partition(b":")
            if k in (b"Name", b"Version") and k not in d:
                d[k] = v.strip()
    if d.get(b"Name"):
        sys.stdout.buffer.write(d[b"Name"] + b"\\t" + d.get(b"Version", b"") + b"\\n")
"""


def _venv_with_pip(tmp_path: Path) -> tuple[Path, Path]:
    """A real virtualenv made by ``venv`` with its bundled pip (real METADATA files), plus a
    setuptools-style develop install reached through a .pth path line with CRLF endings."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    _dist_info(site, "zope.interface", "6.1")
    _write(
        site / "legacy-2.0-py3.11.egg-info", "Metadata-Version: 1.0\nName: legacy\nVersion: 2.0\n"
    )
    develop = tmp_path / "src dir"  # a space in the path, as users' checkouts have
    _write(
        develop / "myapp.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: myapp\nVersion: 0.3\n"
    )
    _write(site / "__editable__.myapp-0.3.pth", f"{develop}\r\n")
    _write(site / "other.pth", "# comment\nimport os\n../nonexistent\n")
    return venv, site


def test_plain_venv_is_listed_without_starting_its_interpreter(tmp_path: Path) -> None:
    venv, _ = _venv_with_pip(tmp_path)
    expected = _importlib_listing(venv)
    assert {"pip", "myapp", "legacy", "zope-interface"} <= {name for name, _ in expected}
    # From here on, starting the venv's interpreter leaves a trace (and fails).
    python = venv / "bin" / "python"
    real = python.resolve()
    trace = tmp_path / "started"
    python.unlink()
    python.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(trace))}\nexit 1\n")
    python.chmod(0o755)
    host = Host("h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv),))
    for shell in (["dash"], ["posh"], ["busybox", "sh"]):
        assert _listing(host, shell) == expected, shell
    assert not trace.exists()
    assert real.exists()


def test_awk_failure_falls_back_to_the_interpreter(tmp_path: Path) -> None:
    """An awk that dies half-way (here: one printing a bogus line first, bind-mounted over the
    real one in a private mount namespace) still yields the interpreter's full listing."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a mount namespace (CI runs as root)")
    venv, _ = _venv_with_pip(tmp_path)
    expected = _importlib_listing(venv)
    fake = _write(tmp_path / "awk", "#!/bin/sh\nprintf 'pip\\t0.0-bogus\\n'\nexit 2\n")
    fake.chmod(0o755)
    awk = shutil.which("awk", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    assert awk is not None
    host = Host("h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv),))
    nonce = new_nonce()
    wrapper = f"mount --bind {shlex.quote(str(fake))} {shlex.quote(awk)} && exec sh -s"
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", wrapper],
        input=build_probe(host, nonce).encode(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    snap = parse_probe(host, proc.stdout, nonce, stderr=proc.stderr, rc=proc.returncode)
    listed = {(p.name, p.version) for p in snap.packages if p.ecosystem is Ecosystem.PIP}
    # The bogus first line came first, so it wins for "pip": that is the only difference.
    assert ("pip", "0.0-bogus") in listed
    assert {x for x in listed if x[0] != "pip"} == {x for x in expected if x[0] != "pip"}
