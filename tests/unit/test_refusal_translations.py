# ruff: noqa: RUF001 -- Chinese text uses full-width punctuation on purpose.
"""Every refusal the code can raise reads in Chinese on the pages, with its values kept.

The refusals are found in the source, not listed by hand: every call that builds a
`CaselineError` subclass, and every `HTTPException` whose detail carries a `code` and a
`message`, in domain/, api/, projections/ and scheduler/. Each call is evaluated for real,
with its free names bound:

- a parameter of the enclosing function takes every value its callers pass, and its default
  (so `self._in(WORKING, "be assigned")` yields the message for "be assigned", and
  `text(value, field="title")` the one for the title);
- a local assigned once from text (an f-string) takes that text;
- a domain value (a name or attribute called `stage`, `horizon` or `level`) takes each value
  of its enum; a moment (`deadline`, `at`...) a fixed date;
- anything else a numbered sample (⟨7⟩), which the Chinese must keep as it is.

A combination that cannot be evaluated (a default of None where the code has checked for
None first, say) is skipped; every call must yield at least one refusal.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pytest

import domain.errors
from api.pages.catalogue_zh import REFUSAL_PARTS_ZH, REFUSALS_ZH
from api.pages.i18n import Translator
from domain.errors import (
    CaselineError,
    LeaderAlreadyAssignedError,
    NoLeaderError,
    WrongStageError,
)
from domain.rules import Horizon, Level, Stage

ROOT = Path(__file__).parents[2]
PACKAGES = ("domain", "api", "projections", "scheduler")
ENUMS: dict[str, list[Any]] = {"stage": list(Stage), "horizon": list(Horizon), "level": list(Level)}
MOMENT_NAMES = {"deadline", "current", "at", "moment", "due_by", "held_at", "new_deadline", "revisit_at"}
MOMENT = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
MOMENT_TEXT = domain.errors.utc_text(MOMENT)
SAMPLE = re.compile(r"⟨\d+⟩")
MAX_DEPTH = 4
MAX_OPTIONS = 80
MAX_COMBINATIONS = 3000
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


class Sample(str):
    """A value the Chinese must keep; its attributes are samples too (`issue.number`)."""

    counter = itertools.count(1)

    @classmethod
    def fresh(cls) -> Sample:
        return cls(f"⟨{next(cls.counter)}⟩")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return Sample.fresh()


@dataclass
class Source:
    """One module of the project: its syntax tree, who encloses what, and what it imports."""

    name: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)
    calls: dict[str, list[ast.Call]] = field(default_factory=dict)

    @cached_property
    def namespace(self) -> dict[str, Any]:
        return vars(importlib.import_module(self.name))

    def enclosing(self, node: ast.AST) -> list[FunctionNode]:
        chain = []
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, FunctionNode):
                chain.append(node)
        return chain


@dataclass(frozen=True)
class Refusal:
    site: str
    code: str
    message: str


def _sources() -> list[Source]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            source = Source(name, ast.parse(path.read_text(), filename=str(path)))
            for node in ast.walk(source.tree):
                for child in ast.iter_child_nodes(node):
                    source.parents[child] = node
                if isinstance(node, ast.ImportFrom) and node.module:
                    for alias in node.names:
                        source.imports[alias.asname or alias.name] = node.module
                if isinstance(node, ast.Call):
                    callee = node.func.attr if isinstance(node.func, ast.Attribute) else None
                    callee = node.func.id if isinstance(node.func, ast.Name) else callee
                    if callee:
                        source.calls.setdefault(callee, []).append(node)
            found.append(source)
    return found


def _positional(fn: FunctionNode) -> list[str]:
    return [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]


def _parameters(fn: FunctionNode) -> set[str]:
    names = set(_positional(fn)) | {a.arg for a in fn.args.kwonlyargs}
    return names | {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}


def _default(fn: FunctionNode, name: str) -> ast.expr | None:
    positional = _positional(fn)
    if name in positional:
        index = positional.index(name) - (len(positional) - len(fn.args.defaults))
        return fn.args.defaults[index] if index >= 0 else None
    for arg, default in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True):
        if arg.arg == name:
            return default
    return None


@cache
def _assignments(fn: FunctionNode, name: str) -> tuple[ast.AST, ...]:
    """Where `name` is bound inside `fn`: a plain assignment's value, else the binding node."""
    plain = [
        node
        for node in ast.walk(fn)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == name
    ]
    targets = {id(node.targets[0]) for node in plain}
    other = [
        node
        for node in ast.walk(fn)
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
    ]
    return (*(node.value for node in plain), *(node for node in other if id(node) not in targets))


class Builder:
    """Builds every refusal the calls in `sources` can make (see the module docstring)."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.resolving: set[tuple[int, str]] = set()

    # -- values of names ------------------------------------------------------------------------

    @staticmethod
    def sample(name: str) -> list[Any]:
        if name in ENUMS:
            return ENUMS[name]
        if name in MOMENT_NAMES:
            return [MOMENT]
        return [Sample.fresh()]

    def is_global(self, source: Source, anchor: ast.AST, name: str) -> bool:
        scoped = any(name in _parameters(fn) or _assignments(fn, name) for fn in source.enclosing(anchor))
        return not scoped and (name in source.namespace or hasattr(builtins, name))

    def name_options(self, source: Source, anchor: ast.AST, name: str, depth: int) -> list[Any]:
        if name in ("self", "cls"):
            return [Sample.fresh()]
        for fn in source.enclosing(anchor):
            if name in _parameters(fn):
                if isinstance(fn, ast.Lambda):
                    return self.sample(name)
                return self.parameter_options(source, fn, name, depth)
            bound = _assignments(fn, name)
            if bound:
                (first, *others), loop = bound, source.parents.get(bound[0])
                if not others and isinstance(first, ast.JoinedStr | ast.Constant) and depth < MAX_DEPTH:
                    return self.values(source, first, depth + 1)
                if not others and isinstance(loop, ast.For) and loop.target is first:
                    items = loop.iter.elts if isinstance(loop.iter, ast.Tuple | ast.List) else []
                    if items and all(isinstance(i, ast.Constant) for i in items):
                        return [i.value for i in items if isinstance(i, ast.Constant)]
                return self.sample(name)
        return self.sample(name)

    def callers(self, source: Source, fn: FunctionNode) -> Iterator[tuple[Source, ast.Call]]:
        assert not isinstance(fn, ast.Lambda)
        method = _positional(fn)[:1] in (["self"], ["cls"])
        for other in self.sources:
            for call in other.calls.get(fn.name, []):
                # a method by any object's attribute; a function where it is defined or imported
                by_attribute = isinstance(call.func, ast.Attribute) and method
                imported = other is source or other.imports.get(fn.name) == source.name
                if by_attribute or (isinstance(call.func, ast.Name) and not method and imported):
                    yield other, call

    @staticmethod
    def argument(fn: FunctionNode, call: ast.Call, name: str) -> ast.expr | None:
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword.value
        positional = _positional(fn)
        if isinstance(call.func, ast.Attribute) and positional[:1] in (["self"], ["cls"]):
            positional = positional[1:]
        if name in positional:
            index = positional.index(name)
            given = call.args[: index + 1]
            if len(given) > index and not any(isinstance(a, ast.Starred) for a in given):
                return call.args[index]
        return None

    def parameter_options(self, source: Source, fn: FunctionNode, name: str, depth: int) -> list[Any]:
        key = (id(fn), name)
        if depth >= MAX_DEPTH or key in self.resolving:
            return self.sample(name)
        self.resolving.add(key)
        try:
            options: list[Any] = []
            default = _default(fn, name)
            if default is not None:
                options += self.values(source, default, depth + 1)
            for caller, call in self.callers(source, fn):
                given = self.argument(fn, call, name)
                if given is not None:
                    options += self.values(caller, given, depth + 1)
        finally:
            self.resolving.discard(key)
        unique = list({repr(o): o for o in options}.values())[:MAX_OPTIONS]
        return unique or self.sample(name)

    # -- values of expressions ------------------------------------------------------------------

    def values(self, source: Source, expr: ast.expr, depth: int) -> list[Any]:
        """Every value `expr` takes, evaluated in its module with its free names bound."""
        if isinstance(expr, ast.Constant):
            return [expr.value]
        bindings: dict[str, list[Any]] = {}
        typed = _TypedAttributes(lambda name: self.is_global(source, expr, name))
        tree = typed.visit(copy.deepcopy(expr))
        bindings.update(typed.bindings)
        for node in ast.walk(tree):
            free = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bindings
            if free and not self.is_global(source, expr, node.id):
                bindings[node.id] = self.name_options(source, expr, node.id, depth)
        code = compile(ast.fix_missing_locations(ast.Expression(tree)), source.name, "eval")
        names = list(bindings)
        results: list[Any] = []
        for chosen in itertools.islice(itertools.product(*bindings.values()), MAX_COMBINATIONS):
            try:
                value = eval(code, dict(source.namespace), dict(zip(names, chosen, strict=True)))
            except (TypeError, AttributeError, ValueError, KeyError, IndexError):
                continue  # a combination the code never makes (None where it checked for None)
            if None in chosen and "None" in str(value):
                continue  # the same: a None the code checks for before it would show
            results.append(value)
        return results

    # -- the refusals ---------------------------------------------------------------------------

    def refusals(self, error_classes: set[str]) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
        """Per call that builds a refusal: where, which class or HTTP code, and (code, message)s."""
        for source in self.sources:
            for node in ast.walk(source.tree):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name):
                    # `raise IdempotencyKeyReusedError`: the class, built with no arguments
                    call = ast.Call(func=node.exc, args=[], keywords=[])
                    source.parents[call] = node
                    node = ast.copy_location(call, node)
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                site = f"{source.name}:{node.lineno}"
                if node.func.id in error_classes:
                    built = [e for e in self.values(source, node, 0) if isinstance(e, CaselineError)]
                    yield site, node.func.id, [(e.code, e.message) for e in built]
                elif node.func.id == "HTTPException":
                    for detail in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "detail")]:
                        code, message = _code_and_message(detail)
                        if code and message:
                            texts = [m for m in self.values(source, message, 0) if isinstance(m, str)]
                            yield site, code, [(code, m) for m in texts]


def _code_and_message(detail: ast.expr) -> tuple[str | None, ast.expr | None]:
    """An HTTP refusal's `{"code": "...", "message": ...}`: the code, and the message's expression."""
    if not isinstance(detail, ast.Dict):
        return None, None
    entries = {
        k.value: v for k, v in zip(detail.keys, detail.values, strict=True) if isinstance(k, ast.Constant)
    }
    code = entries.get("code")
    if isinstance(code, ast.Constant) and isinstance(code.value, str):
        return code.value, entries.get("message")
    return None, None


class _TypedAttributes(ast.NodeTransformer):
    """`self.stage`, `b.deadline`...: an attribute holding a domain value or a moment becomes a
    name bound to each of its values."""

    def __init__(self, is_global: Callable[[str], bool]) -> None:
        self.is_global = is_global
        self.bindings: dict[str, list[Any]] = {}

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        root: ast.expr = node
        while isinstance(root, ast.Attribute):
            root = root.value
        kind = node.attr
        if kind == "value" and isinstance(node.value, ast.Attribute | ast.Name):
            kind = node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id
            values = [v.value for v in ENUMS[kind]] if kind in ENUMS else None
        else:
            values = ENUMS.get(kind) or ([MOMENT] if kind in MOMENT_NAMES else None)
        if values is None or not isinstance(root, ast.Name) or self.is_global(root.id):
            return self.generic_visit(node)
        name = f"typed_{len(self.bindings)}_{kind}"
        self.bindings[name] = list(values)
        return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)


def _error_classes() -> list[type[CaselineError]]:
    for source in _sources():
        importlib.import_module(source.name)  # error classes defined anywhere count
    found, todo = [], [CaselineError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@dataclass
class Found:
    """What the source can refuse with: per call, the refusals it builds."""

    calls: dict[str, tuple[str, list[tuple[str, str]]]]

    @property
    def refusals(self) -> list[Refusal]:
        unique: dict[tuple[str, str], Refusal] = {}
        for site, (_, built) in self.calls.items():
            for code, message in built:
                unique.setdefault((code, message), Refusal(site, code, message))
        return list(unique.values())


@pytest.fixture(scope="module")
def found() -> Found:
    classes = {cls.__name__ for cls in _error_classes()}
    builder = Builder(_sources())
    return Found({site: (what, built) for site, what, built in builder.refusals(classes)})


# -- the tests --------------------------------------------------------------------------------------


def test_the_source_yields_every_kind_of_refusal(found: Found) -> None:
    empty = sorted(site for site, (_, built) in found.calls.items() if not built)
    assert empty == [], "calls for which no refusal could be built"
    assert len(found.calls) > 60, "the extraction found too little to be trusted"
    messages = {r.message for r in found.refusals}
    assert "title: must not be empty" in messages, "a field passed through `text(..., field=...)`"
    assert any(m.endswith("it cannot be assigned now.") for m in messages), "an action through `_in`"
    assert any(m.startswith("Your role may not assign the leader on issue") for m in messages)


def test_every_refusal_reads_in_chinese_with_its_values_kept(found: Found) -> None:
    zh = Translator("zh")
    problems = []
    for refusal in found.refusals:
        where = f"{refusal.site} [{refusal.code}] {refusal.message!r}"
        chinese = zh.find_refusal(refusal.code, refusal.message)
        if chinese is None:
            problems.append(f"{where}: no Chinese")
            continue
        values = SAMPLE.findall(refusal.message) + ([MOMENT_TEXT] if MOMENT_TEXT in refusal.message else [])
        lost = [v for v in values if v not in chinese]
        rest = SAMPLE.sub("", chinese).replace(MOMENT_TEXT, "")
        if lost:
            problems.append(f"{where}: {chinese!r} loses {lost}")
        elif re.search(r"[A-Za-z]{2,}", rest):
            problems.append(f"{where}: {chinese!r} keeps English")
    assert problems == [], "\n".join(problems)


def test_every_error_class_has_chinese_refusals(found: Found) -> None:
    classes = _error_classes()
    built = {what for what, _ in found.calls.values()}
    bases = {CaselineError.__name__, "RuleBrokenError"}
    assert sorted(cls.__name__ for cls in classes if cls.__name__ not in built) == sorted(bases), (
        "every error class but the two bases is raised somewhere"
    )
    missing = sorted(cls.__name__ for cls in classes if cls.code not in REFUSALS_ZH)
    assert missing == sorted(bases)


def test_every_chinese_refusal_serves_a_refusal_and_keeps_its_placeholders(found: Found) -> None:
    zh = Translator("zh")
    seen: set[tuple[str, str]] = set()
    for refusal in found.refusals:
        zh.find_refusal(refusal.code, refusal.message, seen)
    tables = {**REFUSALS_ZH, **REFUSAL_PARTS_ZH}
    assert len(tables) == len(REFUSALS_ZH) + len(REFUSAL_PARTS_ZH), "a part is named like a code"
    entries = {(table, shape) for table, shapes in tables.items() for shape in shapes}
    assert sorted(entries - seen) == [], "entries no refusal uses (a message changed?)"
    for table, shapes in tables.items():
        for english, chinese in shapes.items():
            placeholders = re.compile(r"{(\w+)}")
            assert sorted(placeholders.findall(english)) == sorted(placeholders.findall(chinese)), english
            assert not re.search(r"[A-Za-z]{2,}", placeholders.sub("", chinese)), (table, chinese)


# -- how a refusal is shown ---------------------------------------------------------------------------


def test_a_refusal_reads_as_a_clerk_would_read_it() -> None:
    zh = Translator("zh")
    error = WrongStageError("2026-0041", "in_progress", "be assigned")
    assert zh.refusal(error.code, error.message) == "项目 2026-0041 处于“办理中”阶段，现在不能交办。"
    error = NoLeaderError("2026-0041")
    assert zh.refusal(error.code, error.message) == "项目 2026-0041 尚未确定牵头领导，请先确定牵头领导。"


def test_values_are_kept_as_they_are_whatever_they_contain() -> None:
    error = LeaderAlreadyAssignedError("2026-0041", "王{0} (.*)")
    chinese = Translator("zh").refusal(error.code, error.message)
    assert "2026-0041" in chinese
    assert "（王{0} (.*)）" in chinese


def test_english_pages_show_the_message_as_it_is() -> None:
    error = LeaderAlreadyAssignedError("2026-0041", "李卫东")
    assert Translator("en").refusal(error.code, error.message) == error.message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("rule_broken", "A rule nobody has translated yet."),
        ("no_such_code", "Issue 2026-0041 has no leader yet; assign one first."),
        ("wrong_stage", "Issue 2026-0041 is frozen; it cannot be assigned now."),
        ("wrong_stage", "Issue 2026-0041 is in progress; it cannot fly now."),
    ],
    ids=["unknown-message", "unknown-code", "unknown-stage", "unknown-action"],
)
def test_a_refusal_without_chinese_shows_in_english(code: str, message: str) -> None:
    assert Translator("zh").refusal(code, message) == message


def test_the_pages_show_domain_errors_through_the_translator() -> None:
    """The pages read an error's `message` only where it is a `PageError` (translated already) or
    in `Page.refusal`: a domain error's English message never reaches a page as it is."""
    shown = []
    for path in sorted((ROOT / "api" / "pages").glob("*.py")):
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr == "message"):
                continue
            if isinstance(node.ctx, ast.Store):
                continue  # PageError's own constructor
            scope: ast.AST = node
            while scope in parents and not isinstance(scope, ast.ExceptHandler | ast.FunctionDef):
                scope = parents[scope]
            page_error = (
                isinstance(scope, ast.ExceptHandler)
                and isinstance(scope.type, ast.Name)
                and scope.type.id == "PageError"
            )
            if not (page_error or (isinstance(scope, ast.FunctionDef) and scope.name == "refusal")):
                shown.append(f"{path.name}:{node.lineno}")
    assert shown == [], "a page shows an error's English message; use page.refusal(error)"
