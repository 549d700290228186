"""Task generators: what a task group's placeholders take, row by row, lazily.

`sweep` (cartesian product), `zip` (the i-th value of each), `combinations` (subsets or arrangements of one
list), `random` (seeded draws from distributions) and `repeat` (each row N times, or N identical tasks).
Every generator knows its size without iterating, so validate caps a million-task group in O(1), and yields
rows one at a time, so expanding it never holds more than one.

Random draws are made from `random.Random(seed).random()` alone, turned into each distribution here:
Python guarantees only that method's sequence across versions, and a job's identity must not change with the
interpreter that expands it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations, combinations_with_replacement, permutations, product
from statistics import NormalDist
from typing import Any

from bigcompute.workload.params import Parameter, parameter

REPEAT = "repeat"
KEYS = ("sweep", "zip", "combinations", "random")  # one per group, `repeat` may join any


@dataclass(frozen=True)
class Generator:
    key: str  # the workload field it comes from: sweep | zip | combinations | random | repeat
    names: tuple[str, ...]
    numeric: frozenset[str]  # names whose every value is a number (safe unquoted in a command)

    def size(self) -> int:
        raise NotImplementedError

    def rows(self) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError

    def axes(self) -> tuple[Sequence[Any], ...] | None:
        """Each name's values when the rows are every combination of them (`rows` is their product, the last
        varying fastest), else None: checks and renderings then work once per value instead of once per row."""
        return None


@dataclass(frozen=True)
class Product(Generator):
    parameters: tuple[Parameter, ...] = ()

    def size(self) -> int:
        return math.prod(p.size for p in self.parameters)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        if len(self.parameters) == 1:  # product() would first copy the values into a tuple: a million ints
            return zip(self.parameters[0].values)
        return product(*(p.values for p in self.parameters))  # last parameter varies fastest

    def axes(self) -> tuple[Sequence[Any], ...]:
        return tuple(p.values for p in self.parameters)


@dataclass(frozen=True)
class Zip(Generator):
    parameters: tuple[Parameter, ...] = ()

    def size(self) -> int:
        return min(p.size for p in self.parameters)  # validate refuses unequal lengths

    def rows(self) -> Iterator[tuple[Any, ...]]:
        return zip(*(p.values for p in self.parameters))  # noqa: B905 (lengths checked by validate)


@dataclass(frozen=True)
class Combinations(Generator):
    pool: Parameter | None = None
    replacement: bool = False
    ordered: bool = False

    def size(self) -> int:
        n, k = self.pool.size, len(self.names)  # type: ignore[union-attr]
        if self.ordered:
            return n ** k if self.replacement else math.perm(n, k)
        return math.comb(n + k - 1, k) if self.replacement else math.comb(n, k)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        values, k = self.pool.values, len(self.names)  # type: ignore[union-attr]
        if self.ordered:
            return product(values, repeat=k) if self.replacement else permutations(values, k)
        return combinations_with_replacement(values, k) if self.replacement else combinations(values, k)


@dataclass(frozen=True)
class Draw:
    """One random placeholder: a distribution and its arguments."""

    distribution: str
    args: Mapping[str, Any]

    def sample(self, u: float) -> Any:
        """The value at uniform `u` in (0, 1), by inverse transform."""
        return self.sampler(u)

    @cached_property
    def sampler(self) -> Callable[[float], Any]:
        """`sample` with the arguments bound once: a million-task group draws a million times."""
        a, d = self.args, self.distribution
        if d == "uniform":
            low, width = a["low"], a["high"] - a["low"]
            return lambda u: low + width * u
        if d == "integer":
            low, span = int(a["low"]), int(a["high"]) - int(a["low"])
            return lambda u: low + min(int(u * (span + 1)), span)
        if d == "choice":
            values = a["values"]
            return lambda u: values[min(int(u * len(values)), len(values) - 1)]
        if d in ("normal", "lognormal"):
            inv = NormalDist(a["mean"], a["sd"]).inv_cdf if a["sd"] > 0 else (lambda u: a["mean"])
            return inv if d == "normal" else (lambda u: math.exp(inv(u)))
        if d == "exponential":
            rate = a["rate"]
            return lambda u: -math.log(1.0 - u) / rate
        if d == "triangular":
            return _triangular(a["low"], a["high"], a["mode"])
        raise ValueError(f"unknown distribution {d!r}")

    @property
    def numeric(self) -> bool:
        return self.distribution != "choice" or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.args["values"])


def _triangular(low: float, high: float, mode: float) -> Callable[[float], float]:
    cut = (mode - low) / (high - low) if high > low else 0.5

    def sample(u: float) -> float:
        if u < cut:
            return low + math.sqrt(u * (high - low) * (mode - low))
        return high - math.sqrt((1 - u) * (high - low) * (high - mode))
    return sample


_TINY = 2.0 ** -53


@dataclass(frozen=True)
class Random(Generator):
    seed: int = 0
    count: int = 0
    draws: tuple[Draw, ...] = ()

    def size(self) -> int:
        return self.count

    def rows(self) -> Iterator[tuple[Any, ...]]:
        uniform = random.Random(self.seed).random
        samplers = [d.sampler for d in self.draws]
        for _ in range(self.count):
            yield tuple(f(uniform() or _TINY) for f in samplers)


@dataclass(frozen=True)
class Repeat(Generator):
    inner: Generator | None = None
    times: int = 1

    def size(self) -> int:
        return (self.inner.size() if self.inner else 1) * self.times

    def rows(self) -> Iterator[tuple[Any, ...]]:
        inner = self.inner.rows() if self.inner else iter([()])
        times = range(self.times)
        return ((*row, k) for row in inner for k in times)

    def axes(self) -> tuple[Sequence[Any], ...] | None:
        inner = self.inner.axes() if self.inner else ()
        return None if inner is None else (*inner, range(self.times))


def build_generator(g: Mapping[str, Any]) -> Generator | None:
    """The generator of a task group's (schema-valid, substituted) data, or None for a single task or foreach."""
    inner = _base(g)
    if REPEAT not in g:
        return inner
    names = (*inner.names, REPEAT) if inner else (REPEAT,)
    numeric = (inner.numeric if inner else frozenset()) | {REPEAT}
    return Repeat(REPEAT, names, numeric, inner, g[REPEAT])


def _base(g: Mapping[str, Any]) -> Generator | None:
    if "sweep" in g or "zip" in g:
        key = "sweep" if "sweep" in g else "zip"
        params = tuple(parameter(name, spec) for name, spec in g[key].items())
        cls = Product if key == "sweep" else Zip
        return cls(key, tuple(p.name for p in params), frozenset(p.name for p in params if p.numeric), params)
    if "combinations" in g:
        c = g["combinations"]
        pool = parameter("of", c["of"])
        names = tuple(c["names"])
        return Combinations("combinations", names, frozenset(names) if pool.numeric else frozenset(), pool,
                            c.get("replacement", False), c.get("ordered", False))
    if "random" in g:
        r = g["random"]
        draws = tuple((name, _draw(spec)) for name, spec in r["draws"].items())
        return Random("random", tuple(n for n, _ in draws), frozenset(n for n, d in draws if d.numeric),
                      r["seed"], r["count"], tuple(d for _, d in draws))
    return None


def _draw(spec: Mapping[str, Any]) -> Draw:
    [(distribution, args)] = spec.items()
    return Draw(distribution, {"values": tuple(args)} if distribution == "choice" else dict(args))

