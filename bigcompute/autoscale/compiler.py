"""Type-check the AST and compile it into closures in one pass.

Each expression compiles to (static type, fn(runtime) -> value). Types are known everywhere (a user
variable has the type of its latest assignment), so evaluation never dispatches on types at runtime.
Problems are collected, not raised, so `check()` can report all of them; an expression that failed
gets type ERROR, which silences follow-on errors about it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from bigcompute.autoscale import calls, methods
from bigcompute.autoscale import catalog as cat
from bigcompute.autoscale import nodes as n
from bigcompute.autoscale.errors import FormulaError, at
from bigcompute.autoscale.operators import BINARY, LOGICAL, UNARY, binary_error, guarded_result
from bigcompute.autoscale.runtime import Fn, Runtime
from bigcompute.autoscale.values import T

Typed = tuple[T, Fn | None]
FAILED: Typed = (T.ERROR, None)


@dataclass(frozen=True)
class Program:
    statements: tuple[Callable[[Runtime], None], ...]
    metrics: frozenset[str]  # history keys read through sample methods
    mentions: frozenset[str]  # every variable name read or written
    assigned: tuple[str, ...]  # user variables, in order of first assignment


@dataclass
class Compiler:
    text: str
    source: str = "formula"
    errors: list[FormulaError] = field(default_factory=list)
    types: dict[str, T] = field(default_factory=dict)
    metrics: set[str] = field(default_factory=set)
    mentions: set[str] = field(default_factory=set)
    later: set[str] = field(default_factory=set)

    def error(self, pos: n.Pos, message: str) -> Typed:
        self.errors.append(at(self.text, pos.line, pos.column, message, source=self.source))
        return FAILED

    def program(self, statements: tuple[n.Statement, ...]) -> Program:
        self.later = {s.name for s in statements if isinstance(s, n.Assign)}
        compiled = [self.statement(s) for s in statements]
        assigned = [s.name for s in statements if isinstance(s, n.Assign) and s.name not in cat.READ_WRITE]
        return Program(tuple(c for c in compiled if c is not None), frozenset(self.metrics),
                       frozenset(self.mentions), tuple(dict.fromkeys(assigned)))

    def statement(self, stmt: n.Statement) -> Callable[[Runtime], None] | None:
        kind, fn = self.expr(stmt.value)
        if isinstance(stmt, n.ExprStmt):
            return _discard(fn) if fn is not None else None
        name = stmt.name
        self.mentions.add(name)
        problem = self._assign_problem(name, kind)
        if problem:
            self.error(stmt.pos if problem[0] == "name" else n.start(stmt.value), problem[1])
            kind, fn = FAILED
        if name not in cat.READ_WRITE:
            self.types[name] = kind
        if fn is None:
            return None
        if name in cat.READ_WRITE:
            where = (stmt.pos.line, stmt.pos.column)

            def assign_service(rt: Runtime) -> None:
                rt.vars[name] = fn(rt)
                rt.written_at[name] = where
            return assign_service

        def assign(rt: Runtime) -> None:
            rt.vars[name] = fn(rt)
            rt.types[name] = kind
        return assign

    def _assign_problem(self, name: str, kind: T) -> tuple[str, str] | None:
        if name in cat.CONSTANTS:
            return "name", f"cannot assign to the constant {name}"
        if cat.canonical_metric(name):
            return "name", f"cannot assign to {name}: it is a read-only service variable"
        clash = self._case_clash(name)
        if clash:
            return "name", clash
        if kind is T.ERROR:
            return None
        if kind is T.NONE:
            return "value", "stop() has no value to assign"
        want = cat.READ_WRITE.get(name)
        if want is T.DOUBLE and kind is not T.DOUBLE:
            hint = " (reduce it with avg(), max(), min() or val())" if kind is T.VEC else ""
            return "value", f"cannot assign a {kind} to {name}, which needs a double{hint}"
        if want is T.DEALLOC and kind is not T.DEALLOC:
            words = ", ".join(w for w in cat.CONSTANTS if cat.CONSTANTS[w][0] is T.DEALLOC)
            return "value", f"{name} must be one of {words}, not a {kind}"
        return None

    def _case_clash(self, name: str) -> str | None:
        real = cat.RESERVED.get(name.lower())
        if real and real != name:
            return f"'{name}' differs from Batch's '{real}' only in letter case; write '{real}'"
        return None

    # Expressions ---------------------------------------------------------------------------------
    def expr(self, node: n.Expr) -> Typed:
        if isinstance(node, n.Number):
            value = node.value
            return T.DOUBLE, lambda rt: value
        if isinstance(node, n.String):
            text = node.value
            return T.STRING, lambda rt: text
        if isinstance(node, n.Var):
            return self.var(node)
        if isinstance(node, n.Unary):
            return self.unary(node)
        if isinstance(node, n.Binary):
            return self.binary(node)
        if isinstance(node, n.Ternary):
            return self.ternary(node)
        if isinstance(node, n.Call):
            return calls.compile_call(self, node)
        if isinstance(node, n.Member):
            return methods.compile_member(self, node)
        return methods.compile_method(self, node)

    def var(self, node: n.Var) -> Typed:
        name = node.name
        self.mentions.add(name)
        if name in self.types:
            kind = self.types[name]
            return (kind, lambda rt: rt.vars[name]) if kind is not T.ERROR else FAILED
        if name in cat.READ_WRITE:
            return cat.READ_WRITE[name], _read_service(name)
        if name in cat.CONSTANTS:
            kind, value = cat.CONSTANTS[name]
            return kind, lambda rt: value
        metric = cat.canonical_metric(name)
        if metric in cat.NODE_COUNTS:
            return T.DOUBLE, lambda rt: rt.pool.scalar(metric)
        if metric:
            return self.error(node.pos, f"{name} is a sampled metric; read it through a sample method, "
                                        f"e.g. {name}.GetSample(1) or {name}.GetSample(TimeInterval_Minute * 5)")
        clash = self._case_clash(name)
        if clash:
            return self.error(node.pos, clash)
        if name in self.later:
            return self.error(node.pos, f"variable '{name}' is read before it is assigned")
        return self.error(node.pos, f"unknown variable '{name}'" + suggest(name, self.known_names()))

    def known_names(self) -> list[str]:
        return [*self.types, *cat.READ_WRITE, *cat.METRICS, *cat.READ_ONLY_ALIASES, *cat.CONSTANTS]

    def unary(self, node: n.Unary) -> Typed:
        kind, fn = self.expr(node.operand)
        if fn is None:
            return FAILED
        result = UNARY.get((node.op, kind))
        if result is None:
            return self.error(node.pos, f"unary '{node.op}' is not defined for {kind}")
        if node.op == "!":
            return result, lambda rt: 1.0 if fn(rt) == 0 else 0.0
        return result, lambda rt: -fn(rt)

    def binary(self, node: n.Binary) -> Typed:
        (lt, lf), (rt_, rf) = self.expr(node.left), self.expr(node.right)
        if lf is None or rf is None:
            return FAILED
        if node.op in LOGICAL:
            if lt is not T.DOUBLE or rt_ is not T.DOUBLE:
                return self.error(node.pos, binary_error(node.op, lt, rt_))
            if node.op == "&&":
                return T.DOUBLE, lambda rt: 1.0 if lf(rt) != 0 and rf(rt) != 0 else 0.0
            return T.DOUBLE, lambda rt: 1.0 if lf(rt) != 0 or rf(rt) != 0 else 0.0
        entry = BINARY.get((node.op, lt, rt_))
        if entry is None:
            return self.error(node.pos, binary_error(node.op, lt, rt_))
        result, op = entry
        if guarded_result(lt, rt_, result):
            return result, methods.guarded(node.pos, lambda rt: op(lf(rt), rf(rt)))
        return result, lambda rt: op(lf(rt), rf(rt))

    def ternary(self, node: n.Ternary) -> Typed:
        (ct, cf), (tt, tf), (et, ef) = self.expr(node.test), self.expr(node.then), self.expr(node.orelse)
        if cf is None or tf is None or ef is None:
            return FAILED
        if ct is not T.DOUBLE:
            return self.error(n.start(node.test), f"the condition before '?' must be a double, not a {ct}")
        if tt is not et:
            return self.error(node.pos, f"the two branches of '?:' have different types: {tt} and {et}")
        # Only the chosen branch runs: the docs' examples guard GetSample with GetSamplePercent this way.
        return tt, lambda rt: tf(rt) if cf(rt) != 0 else ef(rt)


def _discard(fn: Fn) -> Callable[[Runtime], None]:
    def run(rt: Runtime) -> None:
        fn(rt)
    return run


def _read_service(name: str) -> Fn:
    if name == cat.DEALLOCATION:
        return lambda rt: rt.vars.get(name, "requeue")
    full = cat.TARGET_ALIASES.get(name, name)
    alias = next(a for a, f in cat.TARGET_ALIASES.items() if f == full)
    low = full == cat.TARGET_LOW_PRIORITY
    # Before any assignment a target reads as the pool's current target (reference §B4).
    return lambda rt: rt.vars.get(name, rt.vars.get(full if name == alias else alias, rt.pool.target(low)))


def suggest(name: str, candidates: list[str]) -> str:
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return f"; did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""
