"""The import picture of STYLE.md stays true: a forbidden import fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
WEB = ("fastapi", "starlette", "jinja2")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(pattern: str) -> list[Path]:
    return sorted(APP.glob(pattern))


@pytest.mark.parametrize("path", modules("domain/*.py"), ids=lambda p: p.name)
def test_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    import sys

    for name in imports_of(path):
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or name.startswith("app.domain"), (
            f"{path.name} imports {name}"
        )


@pytest.mark.parametrize(
    "path",
    modules("*/service.py")
    + modules("*/repository.py")
    + modules("models/*.py")
    + [APP / "demo.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_services_repositories_and_models_never_import_the_web(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith(WEB) and not name.startswith("app.web"), f"{path} imports {name}"


@pytest.mark.parametrize(
    "path",
    modules("*/api.py") + modules("*/pages.py") + [APP / "cli.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_entry_points_never_run_sql(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith("sqlalchemy") or name == "sqlalchemy.orm", (
            f"{path} imports {name}"
        )
        assert not name.endswith(".repository"), f"{path} imports {name}"
