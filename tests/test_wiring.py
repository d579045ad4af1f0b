"""`crowdpost.wiring` registers every job handler, subscriber and log renderer; nothing else does.

The registries start empty in a fresh interpreter that imports every module of the
package, and after `wire_domains()` every job kind the code enqueues has a handler,
every event type its subscribers, and every operation type the code creates with items\nits log.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from crowdpost import events, wiring
from crowdpost.notifications import subscribers
from crowdpost.operations import service as operations
from crowdpost.worker import registry

PACKAGE = Path(__file__).resolve().parent.parent / "crowdpost"
# Operation types whose log is an empty array: a deposit has no items.
WITHOUT_LOG = frozenset({"BALANCE.DEPOSIT"})


def _calls(function: str, argument: int) -> Iterator[tuple[str, ast.expr]]:
    """(module, the argument's expression) of every call of `function` in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) <= argument:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name == function:
                yield module, node.args[argument]


def _value(module: str, expression: ast.expr) -> object:
    """A constant argument, or the module-level name it refers to."""
    if isinstance(expression, ast.Constant):
        return expression.value
    assert isinstance(expression, ast.Name), f"{module}: {ast.unparse(expression)} is not a constant or a name"
    return getattr(importlib.import_module(module), expression.id)


def test_every_enqueued_job_kind_has_a_handler() -> None:
    wiring.wire_domains()
    kinds = {_value(module, kind) for module, kind in _calls("enqueue", 1)}
    assert kinds, "no enqueue call found: the walk is broken"
    assert kinds <= registry.registered_kinds()
    for kind in kinds:
        assert registry.give_up_handler_for(str(kind)) is not None, f"{kind}: an operation would stay RUNNING"


def test_every_event_type_has_its_subscribers() -> None:
    wiring.wire_domains()
    event_types = {
        value for value in vars(events).values() if isinstance(value, type) and value.__module__ == events.__name__
    }
    assert event_types == set(wiring.SUBSCRIBERS)
    for event_type in event_types:
        assert (
            events.subscribers_of(event_type)[: len(wiring.SUBSCRIBERS[event_type])] == wiring.SUBSCRIBERS[event_type]
        )
    wired = {fn for functions in wiring.SUBSCRIBERS.values() for fn in functions}
    modules = {sys.modules[fn.__module__] for fn in wired} | {subscribers}
    handlers = {
        fn for module in modules for name, fn in vars(module).items() if name.startswith("on_") and callable(fn)
    }
    assert handlers == wired, "a subscriber the wiring does not name"


def test_every_operation_type_created_has_a_log() -> None:
    wiring.wire_domains()
    created = {_value(module, kind) for module, kind in _calls("do_claim", 3)}
    assert created, "no do_claim call found: the walk is broken"
    assert {kind for kind in created if not operations.has_log_renderer(str(kind))} == WITHOUT_LOG


def test_wiring_twice_registers_once() -> None:
    wiring.wire_domains()
    before = {kind: events.subscribers_of(kind) for kind in wiring.SUBSCRIBERS}
    wiring.wire_domains()
    assert {kind: events.subscribers_of(kind) for kind in wiring.SUBSCRIBERS} == before


_IMPORT_EVERYTHING = """
import importlib, pkgutil
import crowdpost
from crowdpost import events
from crowdpost.operations import service as operations
from crowdpost.worker import registry

for info in pkgutil.walk_packages(crowdpost.__path__, "crowdpost."):
    if ".migrations" not in info.name and info.name != "crowdpost.__main__":
        importlib.import_module(info.name)
print(sorted(registry._HANDLERS), sorted(registry._GIVE_UP_HANDLERS))
print(sorted(kind.__name__ for kind, functions in events._subscribers.items() if functions))
print(sorted(operations._LOG_RENDERERS))
"""


def test_importing_every_module_registers_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
        timeout=120,
    )
    assert done.stdout.splitlines() == ["[] []", "[]", "[]"]
