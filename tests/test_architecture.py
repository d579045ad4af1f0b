"""The rules a reviewer checks (docs/architecture.md), walked over every import of the package.

- `kit/` is domain-free: it imports no domain.
- A domain never imports another domain's repository (it calls that domain's service).
- Services speak no HTTP: no fastapi, starlette or web import in a domain module other
  than its endpoints (and `accounts/auth.py`, the endpoints' authentication dependency).
- Nothing registers itself on import: no registering decorator anywhere, and no module runs
  a statement at import time other than definitions (the app and the worker call
  `crowdpost.wiring` at startup instead).

Imports inside functions count too: they are still dependencies; relative imports are read
as the absolute names they stand for.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crowdpost"
DOMAINS = frozenset(
    {
        "accounts",
        "workforce",
        "messaging",
        "rewards",
        "operations",
        "notifications",
        "email",
        "webhooks",
        "outbox",
        "worker",
        "web",
    }
)
HTTP_MODULES = ("fastapi", "starlette", "crowdpost.web")
# Domain modules that are HTTP glue by design, beside `endpoints`: FastAPI dependencies.
HTTP_GLUE = frozenset({("accounts", "auth")})
REGISTERING_DECORATORS = frozenset({"job_handler", "on_give_up", "subscribe", "log_renderer"})
# Module-level calls that compose objects of the module itself, not a registry elsewhere.
COMPOSING_CALLS = frozenset({"add_typer"})


def modules() -> Iterator[tuple[Path, tuple[str, ...], ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] == "migrations":
            continue
        yield path, parts, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_names(tree: ast.Module, parts: tuple[str, ...] = ("module",)) -> Iterator[str]:
    """Every module an import statement names, with `from m import x` also as `m.x`.

    `parts` (the module's path in the package) resolves relative imports: in
    `webhooks/service.py`, `from . import repository` names `crowdpost.webhooks.repository`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ("crowdpost", *parts[:-1])
                package = base[: len(base) - (node.level - 1)]
                module = ".".join([*package, *([node.module] if node.module else [])])
            elif node.module:
                module = node.module
            else:
                continue
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def names_module(name: str, module: str) -> bool:
    """`name` is `module` or inside it (crowdpost.webhooks is not inside crowdpost.web)."""
    return name == module or name.startswith(module + ".")


def is_service(parts: tuple[str, ...]) -> bool:
    """A domain module that must not speak HTTP: all but endpoints, pages and named glue."""
    if parts[0] not in DOMAINS or parts[0] == "web" or len(parts) < 2:
        return False
    return parts[1] not in ("endpoints", "__init__") and parts[:2] not in HTTP_GLUE


def problems(parts: tuple[str, ...], tree: ast.Module) -> list[str]:
    """What one module (`parts`: its path inside the package) breaks."""
    found: list[str] = []
    domain = parts[0] if parts[0] in DOMAINS else None
    for name in imported_names(tree, parts):
        target = name.split(".")
        if target[0] == "crowdpost" and len(target) > 1:
            if parts[0] == "kit" and target[1] in DOMAINS:
                found.append(f"kit imports the domain module {name}")
            if (
                domain
                and target[1] in DOMAINS
                and target[1] != domain
                and len(target) > 2
                and target[2] == "repository"
            ):
                found.append(f"imports another domain's repository ({name})")
        if is_service(parts) and any(names_module(name, http) for http in HTTP_MODULES):
            found.append(f"a service imports {name}")
    if parts != ("__main__",):
        found.extend(import_time_registrations(tree))
    return found


def violations() -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}: {problem}"
        for path, parts, tree in modules()
        for problem in problems(parts, tree)
    ]


def import_time_registrations(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", None)
                if name in REGISTERING_DECORATORS:
                    yield f"line {node.lineno}: @{name} registers {node.name} on import"
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            function = statement.value.func
            if isinstance(function, ast.Attribute) and function.attr in COMPOSING_CALLS:
                continue
            yield f"line {statement.lineno}: a call runs at import time"


def test_the_package_keeps_the_import_rules() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "parts", "expected"),
    [
        ("from crowdpost.messaging import service\n", ("kit", "money"), "kit imports the domain"),
        ("from crowdpost.workforce.repository import x\n", ("messaging", "service"), "another domain's repository"),
        ("import fastapi\n", ("rewards", "service"), "a service imports fastapi"),
        ("from fastapi import Query\n", ("workforce", "service", "pools"), "a service imports fastapi"),
        ("from starlette import status\n", ("rewards", "ledger"), "a service imports starlette"),
        ("from crowdpost.web import x\n", ("outbox", "channels"), "a service imports crowdpost.web"),
        ("from ..web import session\n", ("webhooks", "service"), "a service imports crowdpost.web"),
        ("from ..outbox import repository\n", ("email", "service"), "another domain's repository"),
        ("@job_handler('X')\ndef run(): ...\n", ("rewards", "runner"), "@job_handler registers run"),
        ("register(handler)\n", ("worker", "loop"), "a call runs at import time"),
    ],
)
def test_each_rule_catches_its_breach(source: str, parts: tuple[str, ...], expected: str) -> None:
    """The checker itself can fail: each rule, given one breach, names it."""
    found = problems(parts, ast.parse(source))
    assert any(expected in problem for problem in found), found


def test_webhooks_is_not_read_as_web() -> None:
    """A package whose name starts like an HTTP module's is not that module."""
    assert problems(("webhooks", "service"), ast.parse("from crowdpost.webhooks import repository\n")) == []
