"""The rules a reviewer checks (docs/architecture.md), walked over every import of the package.

- `kit/` is domain-free: it imports no domain.
- A domain never imports another domain's repository (it calls that domain's service).
- Services speak no HTTP: no fastapi, starlette or web import in a domain module other
  than its endpoints (and `accounts/auth.py`, the endpoints' authentication dependency).
  That holds for what a module loads, too: importing any module outside the HTTP side
  (`HTTP_SIDE`) loads neither fastapi nor starlette, whatever it imports on the way.
- Statements run only in repositories: outside `repository` modules, no domain module (pages
  and the CLI included) calls `execute`, `scalar(s)` or `get` on a session or connection, or
  imports a write statement (`insert`, `update`, `delete`) from sqlalchemy. Query compilers
  (workforce filters, messaging search) build expressions that their repository runs.
- Nothing registers itself on import: no registering decorator anywhere, and no module runs
  a statement at import time other than definitions (the app and the worker call
  `crowdpost.wiring` at startup instead).

Imports inside functions count too: they are still dependencies; relative imports are read
as the absolute names they stand for.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
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
# Modules that may load fastapi or starlette (besides every `endpoints` package and `web/`):
# the app, its middleware and error bodies, and the dependencies endpoints and pages declare
# (`accounts/auth.py` is the one domain module among them: may import fastapi directly too).
HTTP_SIDE = frozenset(
    {
        ("__main__",),
        ("app",),
        ("api",),
        ("middleware",),
        ("error_responses",),
        ("dependencies",),
        ("accounts", "auth"),
        ("kit", "routing"),
        ("kit", "list_query"),
        ("kit", "wire_response"),
    }
)
REGISTERING_DECORATORS = frozenset({"job_handler", "on_give_up", "subscribe", "log_renderer"})
RUNS_A_STATEMENT = frozenset({"execute", "scalar", "scalars", "get", "get_one"})
WRITE_STATEMENTS = frozenset({"insert", "update", "delete"})
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
    return parts[1] not in ("endpoints", "__init__") and parts[:2] not in HTTP_SIDE


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
    if (parts[0] in DOMAINS or parts == ("cli",)) and not holds_sql(parts):
        found.extend(statements_run(tree))
    return found


def holds_sql(parts: tuple[str, ...]) -> bool:
    """A repository module (`repository.py`, `toloker_repository.py`, `repository/...`)."""
    return any(part.endswith("repository") for part in parts)


def statements_run(tree: ast.Module) -> Iterator[str]:
    """Where a module runs a statement on a session or connection, or imports a write statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_A_STATEMENT:
            receiver = node.func.value
            name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
            if "session" in name or "connection" in name:
                yield f"line {node.lineno}: runs a statement ({ast.unparse(node.func)}) outside a repository"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            writes = sorted(alias.name for alias in node.names if alias.name in WRITE_STATEMENTS)
            if writes:
                yield f"line {node.lineno}: imports {', '.join(writes)} outside a repository"


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
        ("def f(session):\n    session.execute(s)\n", ("rewards", "ledger"), "runs a statement"),
        ("def f(db):\n    db.connection.execute(s)\n", ("worker", "loop"), "runs a statement"),
        ("def f(session):\n    return session.get(Job, 1)\n", ("cli",), "runs a statement"),
        ("def f(self):\n    self.session.scalars(s)\n", ("web", "requester", "messages"), "runs a statement"),
        ("from sqlalchemy import update\n", ("email", "links"), "imports update outside a repository"),
    ],
)
def test_each_rule_catches_its_breach(source: str, parts: tuple[str, ...], expected: str) -> None:
    """The checker itself can fail: each rule, given one breach, names it."""
    found = problems(parts, ast.parse(source))
    assert any(expected in problem for problem in found), found


def test_webhooks_is_not_read_as_web() -> None:
    """A package whose name starts like an HTTP module's is not that module."""
    assert problems(("webhooks", "service"), ast.parse("from crowdpost.webhooks import repository\n")) == []


def test_repositories_may_run_statements() -> None:
    source = "from sqlalchemy import insert\ndef f(session):\n    session.execute(insert(T))\n"
    for parts in [("rewards", "repository"), ("workforce", "repository", "pools"), ("accounts", "toloker_repository")]:
        assert problems(parts, ast.parse(source)) == [], parts


# Run in a fresh interpreter: refuses every fastapi/starlette import, imports each module
# named, and answers {module: the crowdpost files on the import path that reached one}.
_LOADS_NO_HTTP = """
import importlib, json, sys, traceback

class RefuseHttp:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fastapi", "starlette"):
            raise ImportError(name + " is HTTP")
        return None

sys.meta_path.insert(0, RefuseHttp())
reached = {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except ImportError as error:
        frames = traceback.extract_tb(error.__traceback__)
        reached[module] = [f.filename.rsplit("crowdpost/", 1)[-1] for f in frames if "/crowdpost/" in f.filename]
print(json.dumps(reached))
"""


def loads_http(names: list[str], also_on_path: Path | None = None) -> dict[str, list[str]]:
    root = PACKAGE.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (root, also_on_path) if p))
    done = subprocess.run(
        [sys.executable, "-c", _LOADS_NO_HTTP, *names], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, list[str]] = json.loads(done.stdout)
    return answer


def outside_http_side() -> list[str]:
    names = []
    for _path, parts, _tree in modules():
        if "endpoints" in parts or parts[0] == "web" or parts[:2] in HTTP_SIDE or parts[-1] == "__init__":
            continue
        names.append(".".join(("crowdpost", *parts)))
    return names


def test_nothing_outside_the_http_side_loads_fastapi() -> None:
    """Services, repositories, kit, config and db can run in a worker or a script without the
    web framework: not one of them loads it, directly or through what it imports."""
    names = outside_http_side()
    assert "crowdpost.rewards.service" in names
    assert "crowdpost.db" in names
    assert loads_http(names) == {}


def test_the_http_check_sees_an_indirect_import(tmp_path: Path) -> None:
    """The check can fail: a module that imports no fastapi itself but reaches it through
    another module is caught, with the path it took."""
    (tmp_path / "reaches_http.py").write_text("from crowdpost.config import Settings\nimport crowdpost.dependencies\n")
    reached = loads_http(["reaches_http", "crowdpost.kit.money"], also_on_path=tmp_path)
    assert list(reached) == ["reaches_http"]
    assert reached["reaches_http"][-1] == "dependencies.py"
