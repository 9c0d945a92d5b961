"""The package layout is the architecture: each subpackage imports only from the layers below
it (docs/layout.md), so a new module shows by its folder what it may depend on."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "replaybench"
# lower ranks are lower layers; a module may import its own subpackage or lower ranks
RANK = {"errors": -1, "strict_yaml": -1, "validation": -1, "_core": -1, "_rdkafka_reader": -1,
        "__init__": -1, "format": 0, "kafka": 1, "meters": 1, "verdicts": 1, "roles": 2, "results": 2,
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


def test_evaluation_takes_only_whole_runs_from_the_engine():
    """Utilities (client config, topics, provenance) live below; what evaluation may take from
    the engine is a run itself (compat's Kafka Streams check runs one)."""
    taken = {target for path in (PACKAGE / "evaluation").rglob("*.py")
             for target in _imports(path) if _part(target) == "engine"}
    assert taken <= {"replaybench.engine"}, taken
    uses = [path.name for path in (PACKAGE / "evaluation").rglob("*.py")
            if "from replaybench.engine import" in path.read_text()]
    assert uses == ["compat.py"]
    assert "from replaybench.engine import runner, workload" in \
        (PACKAGE / "evaluation" / "compat.py").read_text()
