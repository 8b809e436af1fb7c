"""Keep docs/inventory.md and the bundled inventory's examples honest."""

from __future__ import annotations

import re
from pathlib import Path

from pinmgr.inventory import ansible, native
from pinmgr.inventory.native import SourceType

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "inventory.md").read_text()


def _toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOC, flags=re.DOTALL)


def test_every_toml_example_in_the_doc_parses() -> None:
    blocks = _toml_blocks()
    assert len(blocks) == 4
    for block in blocks:
        text = block if block.lstrip().startswith("schema") else "schema = 1\n" + block
        native.parse(text, "docs/inventory.md", base_dir=ROOT)


def test_every_source_type_and_env_group_is_documented() -> None:
    for kind in SourceType:
        assert f'type = "{kind.value}"' in DOC
    for env in ansible.KNOWN_ENVS:
        assert f"`{env}`" in DOC


def test_commented_examples_of_the_bundled_inventory_parse() -> None:
    lines = (ROOT / "pins" / "inventory.toml").read_text().splitlines()
    # Uncomment every example line: a line "# key = ..." or "# [table]" (not prose).
    example = re.compile(r"^# (\[|[a-z_]+ = )")
    text = "\n".join(ln[2:] if example.match(ln) else ln for ln in lines)
    parsed = native.parse(text, "pins/inventory.toml", base_dir=ROOT / "pins")
    assert [e.name for e in parsed.environments] == ["local", "staging", "production"]
    assert [s.type for s in parsed.sources] == list(SourceType)
