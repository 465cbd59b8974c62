"""No two unrelated classes share a name (issue #12): a reader who meets `Usage` or `Ping`
must not have to ask which one. Per-vendor adapter modules that play the same part (each
vendor's `wire.py`, `errors.py`, `embeddings.py`) may reuse names: the vendor's package says
which is which."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "adapters", "schemas")


def top_level_classes() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    found[node.name].append(path.relative_to(ROOT))
    return found


def same_part_per_vendor(paths: list[Path]) -> bool:
    """Each in `adapters/<vendor>/<module>.py`, one vendor each, the same module name."""
    return (
        all(len(path.parts) == 3 and path.parts[0] == "adapters" for path in paths)
        and len({path.name for path in paths}) == 1
        and len({path.parts[1] for path in paths}) == len(paths)
    )


def test_no_two_unrelated_classes_share_a_name() -> None:
    classes = top_level_classes()
    assert len(classes) > 100  # the scan found the tree
    shared = {
        name: [str(path) for path in paths]
        for name, paths in classes.items()
        if len(paths) > 1 and not same_part_per_vendor(paths)
    }
    assert shared == {}
