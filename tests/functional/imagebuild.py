"""Container images built by the real image tools, for the image reader's tests.

``umoci`` writes an OCI image layout one layer per ``repack`` (a deleted file becomes a real
``.wh.`` whiteout), ``umoci raw add-layer`` appends a layer tar as it is (the only way here to
get an opaque directory, which umoci itself never writes), and ``skopeo copy`` turns the layout
into an OCI archive and a ``docker save`` tarball. rpm databases are written by the real
librpm (``rpm --root ... --initdb`` and ``-i --justdb``) from packages ``rpmbuild`` made.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

TAG = "t"
TOOLS = ("umoci", "skopeo", "rpmbuild", "rpm")


def tools_missing() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install umoci skopeo rpm)"
    return None


def _run(*args: str | Path) -> None:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: {proc.stderr.strip()}")


def layout(out: Path, steps: Sequence[Callable[[Path], None]]) -> Path:
    """An OCI layout at ``out`` (tag ``t``): one layer per step, each step editing the rootfs
    of a fresh ``umoci unpack`` of the image so far (so deletions become whiteouts)."""
    _run("umoci", "init", "--layout", out)
    _run("umoci", "new", "--image", f"{out}:{TAG}")
    for n, step in enumerate(steps):
        bundle = out.parent / f".bundle-{out.name}-{n}"
        _run("umoci", "unpack", "--image", f"{out}:{TAG}", bundle)
        step(bundle / "rootfs")
        _run("umoci", "repack", "--image", f"{out}:{TAG}", bundle)
        shutil.rmtree(bundle)
    return out


def add_raw_layer(image: Path, files: dict[str, bytes | None], work: Path) -> None:
    """Append a layer tar written here: ``None`` values are empty marker files (whiteouts)."""
    tree = work / "raw-layer"
    for name, data in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data or b"")
    tar_path = work / "raw-layer.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in sorted(files):
            tar.add(tree / name, arcname=name)
    _run("umoci", "raw", "add-layer", "--image", f"{image}:{TAG}", tar_path)


def docker_archive(image: Path, out: Path) -> Path:
    _run("skopeo", "copy", "-q", f"oci:{image}:{TAG}", f"docker-archive:{out}:pmtest/image:{TAG}")
    return out


def oci_archive(image: Path, out: Path) -> Path:
    _run("skopeo", "copy", "-q", f"oci:{image}:{TAG}", f"oci-archive:{out}:{TAG}")
    return out


def write_status(root: Path, packages: dict[str, str], *, arch: str = "amd64") -> None:
    """A dpkg status file as dpkg writes it (``libssl3`` is Multi-Arch: same)."""
    dpkg = root / "var" / "lib" / "dpkg"
    dpkg.mkdir(parents=True, exist_ok=True)
    text = ""
    for name, version in sorted(packages.items()):
        text += f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
        text += f"Architecture: {arch}\n"
        if name.startswith("lib"):
            text += "Multi-Arch: same\n"
        text += f"Version: {version}\nDescription: test package {name}\n\n"
    (dpkg / "status").write_text(text)


def write_os_release(root: Path, os_id: str, version_id: str) -> None:
    """``/usr/lib/os-release`` and the relative ``/etc/os-release`` link real images have."""
    (root / "usr" / "lib").mkdir(parents=True, exist_ok=True)
    (root / "usr" / "lib" / "os-release").write_text(
        f'NAME="{os_id}"\nID={os_id}\nVERSION_ID="{version_id}"\n'
    )
    (root / "etc").mkdir(parents=True, exist_ok=True)
    link = root / "etc" / "os-release"
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to("../usr/lib/os-release")


def write_dist_info(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def build_rpm(
    out: Path,
    name: str,
    version: str,
    release: str,
    *,
    epoch: int | None = None,
    arch: str = "noarch",
) -> Path:
    """A file-less rpm built by ``rpmbuild`` (``--target`` for an arch-specific one)."""
    top = out / "rpmbuild"
    spec = top / f"{name}-{version}-{release}.spec"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(
        f"Name: {name}\nVersion: {version}\nRelease: {release}\n"
        + (f"Epoch: {epoch}\n" if epoch is not None else "")
        + "Summary: pinmgr test package\nLicense: MIT\n"
        + ("BuildArch: noarch\n" if arch == "noarch" else "")
        + "%description\npinmgr test package\n%files\n"
    )
    args = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", "--nodeps"]
    if arch != "noarch":
        args += ["--target", arch]
    _run(*args, spec)
    built = sorted((top / "RPMS").rglob(f"{name}-{version}-{release}.*.rpm"))
    if not built:
        raise RuntimeError(f"rpmbuild made no package for {name}")
    return built[0]


def install_rpms(root: Path, rpms: Sequence[Path], dbpath: str = "/var/lib/rpm") -> None:
    """Record ``rpms`` in the rpm database inside ``root`` (no files, no scripts)."""
    _run("rpm", "--root", root, "--dbpath", dbpath, "--initdb")
    for rpm in rpms:
        _run(
            "rpm",
            "--root",
            root,
            "--dbpath",
            dbpath,
            "-i",
            "--justdb",
            "--nodeps",
            "--noscripts",
            "--ignorearch",
            "--ignoreos",
            rpm,
        )


def rpm_query(root: Path, dbpath: str = "/var/lib/rpm") -> list[str]:
    """The oracle: what librpm itself lists, as ``name epoch:version-release arch``."""
    proc = subprocess.run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            dbpath,
            "-qa",
            "--qf",
            "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(line for line in proc.stdout.splitlines() if line)
