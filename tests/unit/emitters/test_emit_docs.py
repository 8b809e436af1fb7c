"""docs/ansible.md and docs/cm-tools.md show tested files and real emitter output, verbatim."""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import pytest

from pinmgr.emitters.ansible_vars import emit_vars
from pinmgr.emitters.chef_recipe import emit_cookbook
from pinmgr.lockfile.load import loads
from pinmgr.model import Lockfile
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


# docs/cm-tools.md: one lockfile (cm-sample.toml) in every CM tool, side by side. Its Ansible and
# Chef blocks must be what the emitters write for that file today, byte for byte.
CM_DOC = DOC.with_name("cm-tools.md")
CM_SAMPLE = "tests/data/emitters/cm-sample.toml"


def _cm_sample() -> tuple[Lockfile, str, str]:
    raw = (DATA / "cm-sample.toml").read_bytes()
    return loads(raw.decode(), CM_SAMPLE), hashlib.sha256(raw).hexdigest(), raw.decode()


def _blocks(lang: str) -> list[str]:
    """The bodies of the doc's ```lang fenced blocks."""
    return re.findall(rf"^```{lang}\n(.*?)^```$", CM_DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_cm_doc_shows_the_sample_lockfile_verbatim() -> None:
    _lock, _digest, text = _cm_sample()
    assert text in _blocks("toml")


def test_cm_doc_ansible_block_is_the_emitted_group_vars() -> None:
    lock, digest, _text = _cm_sample()
    # ``in``, not ``==``: the Salt and Puppet sections pasted later may add blocks of their own.
    assert emit_vars(lock, digest)["group_vars/web.yml"] in _blocks("yaml")


def test_cm_doc_chef_blocks_are_the_emitted_cookbook() -> None:
    lock, digest, _text = _cm_sample()
    files = emit_cookbook(lock, digest, hold=True)
    blocks = _blocks("ruby")
    for rel in ("recipes/web.rb", "metadata.rb", "libraries/pinmgr.rb"):
        assert files[f"pinmgr/{rel}"] in blocks, f"update docs/cm-tools.md: {rel}"


def test_cm_doc_covers_the_four_tools_and_says_chef_was_not_run() -> None:
    doc = CM_DOC.read_text(encoding="utf-8")
    for heading in ("## Ansible", "## Salt", "## Puppet", "## Chef"):
        assert doc.count(f"\n{heading}") == 1, heading
    assert "**Chef was not run here.**" in doc
    for command in (
        "ansible-vars",
        "ansible-playbook",
        "salt-state",
        "puppet-manifest",
        "chef-recipe",
    ):
        assert f"pinmgr emit {command}" in doc
    # The comparison table has a cell for every tool in every row.
    after = doc.split("## Comparison", 1)[1].strip().splitlines()
    table = list(itertools.takewhile(lambda line: line.startswith("|"), after))
    assert len(table) == 10 and all(line.count("|") == 6 and "| |" not in line for line in table)
