"""The size rules of docs/architecture.md ("Sizes"), read from the source (nothing is imported).

They cover ``app.py``, ``chalicelib/``, ``costmodel/``, ``stack/``, ``bench/`` and ``infra/``:

- a module outside ``chalicelib/render/`` has at most 400 lines;
- a class has at most 20 public methods (its own ``def``s whose name has no leading underscore,
  properties included);
- a class takes at most 10 constructor parameters: the parameters of its ``__init__`` (``self``,
  ``*args`` and ``**kwargs`` not counted), or, without one, the fields of a dataclass (those with
  ``init=False`` and ``ClassVar`` not counted). Values are exempt: frozen dataclasses (entities,
  events, options), pydantic models (wire shapes, settings), named tuples, typed dicts and enums.

``KNOWN`` lists today's offenders, each with the issue item that removes it: a new offender fails,
and so does an entry that no longer offends (the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
MAX_PUBLIC_METHODS = 20
MAX_CONSTRUCTOR_PARAMETERS = 10
VALUE_BASES = frozenset(
    {"BaseModel", "BaseSettings", "RootModel", "NamedTuple", "TypedDict", "Enum", "StrEnum", "IntEnum"}
)

# What offends today, and the issue item that removes it: nothing since issue 25 landed.
KNOWN: dict[str, str] = {}


@dataclass(frozen=True)
class ClassInfo:
    path: str
    node: ast.ClassDef

    @property
    def bases(self) -> set[str]:
        return {_name(b) for b in self.node.bases}


def _name(node: ast.expr) -> str:
    """``Name`` or ``module.Name`` (or ``Generic[...]``) as the last name: ``Name``."""
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


# What the rules cover: the application and the tools that run it (the cost model, the stack, the
# benchmarks, the packaging scripts). Not the tests, whose long tables of cases read best whole.
CHECKED = ("chalicelib", "costmodel", "stack", "bench", "infra")


def modules() -> Iterator[Path]:
    yield ROOT / "app.py"
    for folder in CHECKED:
        yield from sorted((ROOT / folder).rglob("*.py"))


def classes() -> list[ClassInfo]:
    found = []
    for path in modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        rel = path.relative_to(ROOT).as_posix()
        found += [ClassInfo(rel, node) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    return found


def _dataclass_decorator(node: ast.ClassDef) -> ast.expr | None:
    for decorator in node.decorator_list:
        if _name(decorator) == "dataclass":
            return decorator
    return None


def _is_frozen(decorator: ast.expr) -> bool:
    return isinstance(decorator, ast.Call) and any(
        k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in decorator.keywords
    )


def value_classes(found: list[ClassInfo]) -> set[str]:
    """Names of the value classes: frozen dataclasses and (transitively) subclasses of a value base."""
    values = {c.node.name for c in found if (d := _dataclass_decorator(c.node)) is not None and _is_frozen(d)}
    model_like = set(VALUE_BASES)
    changed = True
    while changed:  # a model of a model is a model
        changed = False
        for c in found:
            if c.node.name not in model_like and c.bases & model_like:
                model_like.add(c.node.name)
                changed = True
    return values | (model_like - VALUE_BASES)


def _init(node: ast.ClassDef) -> ast.FunctionDef | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return item
    return None


def _field_in_init(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Call) and _name(value.func) == "field":
        return not any(
            k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in value.keywords
        )
    return True


def constructor_parameters(info: ClassInfo) -> int:
    init = _init(info.node)
    if init is not None:
        args = init.args
        named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        return len([a for a in named if a.arg not in ("self", "cls")])
    if _dataclass_decorator(info.node) is None:
        return 0
    return sum(
        1
        for item in info.node.body
        if isinstance(item, ast.AnnAssign)
        and isinstance(item.target, ast.Name)
        and _name(item.annotation) != "ClassVar"
        and _field_in_init(item.value)
    )


def public_methods(info: ClassInfo) -> int:
    return sum(
        1
        for item in info.node.body
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_")
    )


def offenders() -> dict[str, str]:
    """Every break of the rules, by a stable name: what it is."""
    found: dict[str, str] = {}
    for path in modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("chalicelib/render/"):
            continue
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            found[f"lines {rel}"] = f"{lines} lines"
    every = classes()
    values = value_classes(every)
    for info in every:
        name = f"{info.path}:{info.node.name}"
        if (methods := public_methods(info)) > MAX_PUBLIC_METHODS:
            found[f"methods {name}"] = f"{methods} public methods"
        if (
            info.node.name not in values
            and (count := constructor_parameters(info)) > MAX_CONSTRUCTOR_PARAMETERS
        ):
            found[f"constructor {name}"] = f"{count} constructor parameters"
    return found


def test_no_new_module_class_or_constructor_over_its_size() -> None:
    new = {k: v for k, v in offenders().items() if k not in KNOWN}
    assert new == {}, "over the size rules of docs/architecture.md (split it, or pass one options value)"


def test_the_known_offenders_still_offend() -> None:
    """An entry fixed by its issue item leaves the list, so that it cannot come back unseen."""
    current = offenders()
    assert [k for k in KNOWN if k not in current] == []


def test_the_rules_see_what_they_are_meant_to_see() -> None:
    source = (
        """
from dataclasses import dataclass, field
from typing import ClassVar
from pydantic import BaseModel

class Wide:
    def __init__(self, a, b, c, d, e, f, g, h, i, j, k, *args, **kwargs): ...

@dataclass
class Holder:
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int
    g: int
    h: int
    i: int
    j: int
    k: int = 0
    cache: dict = field(default_factory=dict, init=False)
    LIMIT: ClassVar[int] = 3

@dataclass(frozen=True)
class Value:
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int
    g: int
    h: int
    i: int
    j: int
    k: int

class Body(BaseModel): ...
class Nested(Body): ...

class Many:
"""
        + "".join(f"    def m{i}(self): ...\n" for i in range(21))
        + "    def _private(self): ...\n"
    )
    tree = ast.parse(source)
    found = {n.name: ClassInfo("x.py", n) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    assert constructor_parameters(found["Wide"]) == 11
    assert constructor_parameters(found["Holder"]) == 11  # init=False and ClassVar not counted
    assert value_classes(list(found.values())) == {"Value", "Body", "Nested"}
    assert public_methods(found["Many"]) == 21
    assert public_methods(found["Holder"]) == 0
