"""The package layout is the architecture: each subpackage imports only from the layers below
it (docs/layout.md), so a new module shows by its folder what it may depend on."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "replaybench"
# lower ranks are lower layers; a module may import its own subpackage or lower ranks
RANK = {"errors": -1, "strict_yaml": -1, "validation": -1, "_core": -1, "_rdkafka_reader": -1,
        "__init__": -1, "format": 0, "meters": 1, "verdicts": 1, "roles": 2, "results": 2,
        "clusters": 2, "engine": 3, "analysis": 3, "evaluation": 4, "cli": 5, "__main__": 6}


def _part(module: str) -> str:
    """replaybench.engine.runner -> engine; replaybench.errors -> errors."""
    return module.split(".")[1] if "." in module else "__init__"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("replaybench"):
            if node.module == "replaybench":   # a submodule, or a name from __init__
                found |= {f"replaybench.{a.name}" if any(PACKAGE.glob(f"{a.name}*"))
                          else "replaybench" for a in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("replaybench.")}
    return found


def test_every_module_sits_in_a_known_layer():
    parts = {_part("replaybench." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts))
             for p in PACKAGE.rglob("*.py")}
    assert parts <= set(RANK), parts - set(RANK)
    assert len(list(PACKAGE.glob("*.py"))) <= 6, "modules belong in a subpackage"


def test_imports_run_one_way():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        here = _part("replaybench." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for target in _imports(path):
            there = _part(target)
            if there != here and RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert upward == []
