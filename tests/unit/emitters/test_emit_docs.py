"""docs/ansible.md shows the tested role and real emitter output, verbatim: they cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.emitters._support import DATA

DOC = Path(__file__).resolve().parents[3] / "docs" / "ansible.md"


@pytest.mark.parametrize(
    "rel",
    [
        "site/roles/pinned_packages/defaults/main.yml",
        "site/roles/pinned_packages/tasks/main.yml",
        "site/site.yml",
        "ansible/group_vars/app.yml",
    ],
)
def test_doc_embeds_the_tested_file(rel: str) -> None:
    text = (DATA / rel).read_text(encoding="utf-8")
    assert f"```yaml\n{text}```" in DOC.read_text(encoding="utf-8"), (
        f"update docs/ansible.md: {rel}"
    )


def test_doc_embeds_the_start_of_the_golden_fix_playbook() -> None:
    head = "\n".join((DATA / "ansible" / "fix.yml").read_text(encoding="utf-8").splitlines()[:40])
    assert f"```yaml\n{head}\n```" in DOC.read_text(encoding="utf-8")


def test_doc_names_every_emit_command() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for command in ("ansible-vars", "ansible-playbook", "apt-preferences"):
        assert f"pinmgr emit {command}" in doc
