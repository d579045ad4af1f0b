"""Every third-party module the package imports at run time is a declared runtime dependency.

`make run` installs the package without the dev extras, so a module that only a dev tool
pulls in (httpx arrives with toloka-kit) works in the suite and fails to start on a fresh
machine. Imports under `if TYPE_CHECKING:` are for mypy only and do not count.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crowdpost"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_requirements(dist: str) -> list[str]:
    """The distributions `dist` requires outside any extra (markers of extras are dropped)."""
    names = []
    for line in metadata.requires(dist) or []:
        if "extra ==" in line.replace('"', "'").replace("extra==", "extra =="):
            continue
        match = _NAME.match(line)
        if match:
            names.append(_normal(match.group(0)))
    return names


def runtime_closure() -> set[str]:
    """crowdpost and everything it pulls in without extras, as installed here."""
    seen: set[str] = set()
    todo = ["crowdpost"]
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            todo.extend(_runtime_requirements(dist))
        except metadata.PackageNotFoundError:
            continue  # an environment-marker dependency not installed on this Python
    return seen


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of the imports inside `if TYPE_CHECKING:` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    lines.add(getattr(sub, "lineno", -1))
    return lines


def imported_top_levels() -> dict[str, str]:
    """Third-party top-level module -> the first file that imports it at run time."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = _type_checking_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno in typing_only:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "crowdpost" and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, str(path.relative_to(PACKAGE.parent)))
    return found


def test_every_runtime_import_is_a_runtime_dependency() -> None:
    providers = metadata.packages_distributions()
    closure = runtime_closure()
    missing = []
    for module, where in sorted(imported_top_levels().items()):
        dists = {_normal(d) for d in providers.get(module, [])}
        assert dists, f"{where} imports {module}, which no installed distribution provides"
        if not dists & closure:
            missing.append(f"{where} imports {module} ({', '.join(sorted(dists))}), not a runtime dependency")
    assert not missing, "\n".join(missing)


def test_the_check_sees_a_dev_only_module() -> None:
    """The closure leaves out what only the dev extras bring: pytest is installed, not required."""
    closure = runtime_closure()
    assert "fastapi" in closure
    assert "sqlalchemy" in closure
    assert "pytest" not in closure
    assert "toloka-kit" not in closure
