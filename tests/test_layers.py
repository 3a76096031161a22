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
