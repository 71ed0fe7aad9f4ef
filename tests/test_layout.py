"""The package reads as the audit's data path: no module imports from a layer above its own."""
import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

import equity_audit

PACKAGE = Path(equity_audit.__file__).resolve().parent
GROUND = {"stats", "ranges", "exceptions", "config", "paths", "_version"}
METHODS = {"disaggregate", "pace", "scans", "trends", "disproportionality", "reliability", "privacy", "counts",
           "stratified", "lazy"}
RANK = {"ground": 0, "data": 1, "methods": 2, "questions": 3, "publish": 4, "app": 5, "facade": 6}


def layer_of(module: str) -> str:
    """'equity_audit.data.load' -> 'data'; 'equity_audit.pace' -> 'methods'."""
    parts = module.split(".")[1:]
    if not parts or parts[0] in ("__init__", "__main__"):
        return "facade"
    if parts[0] in GROUND:
        return "ground"
    if parts[0] in METHODS:
        return "methods"
    return parts[0]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    """True for 'equity_audit.data.load', False for 'equity_audit.data.load.District'."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def imported_modules(path: Path) -> set[str]:
    """Every package module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("equity_audit"):
            assert node.level == 0, f"{path.name}: use absolute imports so the layer is visible"
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if is_module(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("equity_audit")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_layer_above(path):
    own = layer_of(module_name(path))
    upward = [m for m in imported_modules(path) if RANK[layer_of(m)] > RANK[own]]
    assert not upward, f"{module_name(path)} ({own}) imports from above: {upward}"


def test_stats_is_the_ground_floor():
    assert imported_modules(PACKAGE / "stats.py") == set()


def test_the_layer_rule_can_fail():
    # A questions module importing the pipeline would point back up.
    assert RANK[layer_of("equity_audit.app.pipeline")] > RANK[layer_of("equity_audit.questions.needs")]
    assert layer_of("equity_audit.data.load") == "data" and layer_of("equity_audit.pace") == "methods"


def test_every_module_sits_in_a_known_layer():
    assert {layer_of(module_name(p)) for p in MODULES} <= set(RANK)


def test_public_method_paths_stay_importable():
    for name in ["pace", "stats", "privacy", "disproportionality", "reliability", "disaggregate",
                 "scans", "trends"]:
        importlib.import_module(f"equity_audit.{name}")
    from equity_audit import disaggregate

    assert callable(disaggregate)
