"""The node's Python: `python3` as a pool's start task leaves it on a Batch node, not the emulator's own.

On Azure a pool's start task installs a workload's tools (`apt-get install python3-numpy`), and nothing of
the machine that submitted the job is there. Locally, tasks get a virtualenv of the same interpreter
holding only the requested distributions and what they require (linked from the emulator's environment,
so nothing is downloaded), first on a PATH from which the emulator's virtualenv is removed: azure-batch,
bigcompute and every other package of the project are not importable from a task.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import venv
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

# What the shipped stacks' start tasks install (aptPackages python3-numpy, python3-matplotlib, python3-mpi4py):
# the default of an executor built without an explicit list (tests, in-process emulators).
DEFAULT_PACKAGES = ("numpy", "matplotlib", "mpi4py")
# Where Debian's python3-* packages live. mpi4py is built against the system's MPI library, so a node gets it
# from Debian (python3-mpi4py with openmpi-bin), not from the emulator's environment.
DEBIAN_SITE = Path("/usr/lib/python3/dist-packages")
_APT_PYTHON = re.compile(r"python3-(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")


def root(data_dir: Path) -> Path:
    """Where an emulator with this data dir keeps its node Python."""
    return data_dir / "node-python"


def from_apt(apt_packages: Iterable[str]) -> list[str]:
    """`python3-numpy` -> `numpy`: the Python distributions among a start task's Debian packages."""
    return [m.group("name") for p in apt_packages if (m := _APT_PYTHON.fullmatch(p))]


def closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """The named distributions and every one they require (no extras), as installed here; a name that is
    not installed is skipped (a Debian-only package has no distribution of the same name)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(found.values())


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The entries a distribution adds to site-packages: its packages, modules, data and dist-info folders."""
    names = set()
    for file in dist.files or []:
        first = file.parts[0] if file.parts else ""
        if first and first not in ("..", "__pycache__"):
            names.add(first)
    return names


def debian_packages(names: Iterable[str], site: Path, debian: Path = DEBIAN_SITE) -> list[Path]:
    """Packages of Debian's python3-* found in `debian` that `site` does not hold yet (what `closure` found in
    the emulator's environment wins): python3-mpi4py's mpi4py. Debian builds them for its python3 of the same
    minor version, which this interpreter must be to load their extension modules."""
    if f"python{sys.version_info.major}.{sys.version_info.minor}" != _debian_python():
        return []
    return [debian / n for n in names if (debian / n / "__init__.py").exists() and not (site / n).exists()]


def _debian_python() -> str | None:
    found = sorted(Path("/usr/bin").glob("python3.[0-9]*"))
    return next((p.name for p in found if re.fullmatch(r"python3\.\d+", p.name)), None)


def clean_path(path: str | None = None) -> str:
    """The machine's PATH without the emulator's own virtualenv (`sys.prefix`), as a node has no such thing."""
    prefix = os.path.realpath(sys.prefix)
    kept = [d for d in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
            if d and not os.path.realpath(d).startswith(prefix + os.sep)]
    return os.pathsep.join(kept)


class NodePython:
    """Built once per data dir (`ensure`), rebuilt when the requested distributions change."""

    def __init__(self, root: Path, packages: Sequence[str]) -> None:
        self.root = root
        self.packages = tuple(sorted(set(packages)))
        self._lock = threading.Lock()
        self._ready = False

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def path(self) -> str:
        """A task's PATH: the node's Python first, then the machine's programs."""
        return os.pathsep.join(p for p in (str(self.bin), clean_path()) if p)

    def ensure(self) -> NodePython:
        with self._lock:
            if not self._ready:
                self._build()
                self._ready = True
        return self

    def _build(self) -> None:
        stamp = self.root / "packages.txt"
        wanted = "\n".join(self.packages) + "\n"
        if (self.bin / "python3").exists() and stamp.exists() and stamp.read_text() == wanted:
            return
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(self.root)
        site = self._site()
        for dist in closure(self.packages):
            for name in _top_level(dist):
                source, link = Path(str(dist.locate_file(name))), site / name
                if source.exists() and not link.exists():
                    link.symlink_to(source)
        for source in debian_packages(self.packages, site):
            (site / source.name).symlink_to(source)
        # Readable by a task user (who may run tasks when the emulator runs as root).
        for folder in (self.root, site):
            folder.chmod(0o755)
        stamp.write_text(wanted)

    def _site(self) -> Path:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / "lib" / version / "site-packages"
