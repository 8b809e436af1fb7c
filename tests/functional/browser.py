"""Debian's real Chromium, driven by Playwright, for the HTML report's tests and benchmark.

Playwright drives the system browser (``/usr/bin/chromium``, apt package ``chromium``); it never
downloads one. Each launch gets a fresh profile directory. Every page records what it
requested, what it logged and any dialog it opened, so a test can prove that a report loaded
nothing but itself and ran no script but its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
# What this machine needs as root in a container, and no traffic of Chromium's own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"needs {CHROMIUM} (apt package chromium, tests/apt-packages.txt)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs playwright (pip install -e '.[test]')"
    return None


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """One headless Chromium with a fresh profile, closed (and the profile removed) after."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="pinmgr-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Opened:
    """A report page and everything it did while loading and being used."""

    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def assert_quiet(self) -> None:
        """Only the file itself was loaded; no dialog, no console error, no script error."""
        assert self.requests == [self.url], self.requests
        assert self.dialogs == [], self.dialogs
        assert self.console == [], self.console


def open_report(
    context: BrowserContext,
    path: Path,
    width: int = 1280,
    before: Callable[[Page], None] | None = None,
) -> Opened:
    """Open ``path`` and wait (with Playwright's deadline) for the script's first render.

    ``before`` gets the page before it navigates (the benchmark starts CPU metrics there).
    """
    page = context.new_page()
    if before is not None:
        before(page)
    page.set_viewport_size({"width": width, "height": 900})
    opened = Opened(page, path.resolve().as_uri())
    page.on("request", lambda r: opened.requests.append(r.url))
    page.on("requestfailed", lambda r: opened.failed.append((r.url, str(r.failure))))
    page.on(
        "console",
        lambda m: (
            opened.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: opened.console.append(f"pageerror: {e}"))

    def dialog(d: object) -> None:
        opened.dialogs.append(str(getattr(d, "message", d)))
        d.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dialog)
    page.goto(opened.url)
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
    return opened


def artifacts_dir() -> Path:
    """Where screenshots go: $PINMGR_TEST_ARTIFACTS, else a new temp dir (printed)."""
    where = os.environ.get("PINMGR_TEST_ARTIFACTS")
    path = Path(where) if where else Path(tempfile.mkdtemp(prefix="pinmgr-artifacts-"))
    path.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {path}")
    return path
