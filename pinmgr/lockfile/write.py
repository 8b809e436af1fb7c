"""Write an edited lockfile: validate the new text first, then replace the file atomically."""

from __future__ import annotations

from pathlib import Path

from tomlkit.toml_document import TOMLDocument

from pinmgr.atomic import write_atomic
from pinmgr.lockfile.edit import dumps
from pinmgr.lockfile.load import check_text, combine


def save(path: str | Path, doc: TOMLDocument, original: bytes | None) -> str:
    """Write ``doc`` to ``path`` and return the text written.

    ``original`` is the bytes ``read_document`` returned: if the file changed since, nothing is
    written (``WriteError``). An edit that would leave an invalid lockfile raises
    ``LockfileError`` and the file is left untouched.
    """
    text = dumps(doc)
    problems = check_text(text, str(path))
    if problems:
        raise combine(problems, str(path))
    write_atomic(path, text, original)
    return text
