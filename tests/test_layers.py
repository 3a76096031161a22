"""The layers of docs/design.md: `envs` imports only numpy, gymnasium, pettingzoo and itself."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENVS_MAY_IMPORT = {"numpy", "gymnasium", "pettingzoo", "envs"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "envs").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_envs_imports_only_its_allowed_packages(path):
    import sys

    third_party = {name for name in imported_packages(path) if name not in sys.stdlib_module_names}
    assert third_party <= ENVS_MAY_IMPORT, f"{path} imports {sorted(third_party - ENVS_MAY_IMPORT)}"


ASSIST_LAYERS = [
    {"checks", "logger", "pictures", "progress", "rundirs"},
    {"models"},
    {"search"},
    {"llm"},
    {"players"},
    {"rollout", "recording", "evaluation", "calibration"},
    {"learning"},
    {"trained", "registry"},
    {"config", "sweep", "plots", "ui"},
    {"cli"},
]
"""The parts of `assist` from the bottom up (docs/design.md, Layers): a part may import its
own layer and the layers below, never one above, so the layers have one direction."""


def layer_of(part: str) -> int:
    found = [i for i, layer in enumerate(ASSIST_LAYERS) if part in layer]
    assert found, f"assist.{part} is in no layer of ASSIST_LAYERS: add it where its imports put it"
    return found[0]


def assist_parts_imported(path: Path) -> set[str]:
    """The parts of `assist` (its subpackages and top-level modules) that ``path`` imports,
    at module level or inside functions."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "assist" else [node.module]
        else:
            continue
        parts |= {module.split(".")[1] for module in modules if module.startswith("assist.")}
    return parts


def part_of(path: Path) -> str:
    inner = path.relative_to(ROOT / "assist").parts
    return inner[0] if len(inner) > 1 else path.stem


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "assist").rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT / "assist"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_assist_imports_only_its_own_layer_and_those_below(path):
    part = part_of(path)
    above = sorted(other for other in assist_parts_imported(path) - {part} if layer_of(other) > layer_of(part))
    assert not above, f"{path.relative_to(ROOT)} (assist.{part}, layer {layer_of(part)}) imports assist.{above} from a layer above"
