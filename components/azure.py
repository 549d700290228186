"""The azure-native packages the program uses, each loading only the resource modules the program declares.

Importing `pulumi_azure_native.network` runs the package's `__init__`, which imports every resource module of
the package (network: ~290 of them) for the half dozen the program declares: most of `infra plan`'s import
time. `install()` puts a light package in their place before first use: it has the package's path, so a
resource module and the shared types it imports (`_inputs`, `outputs`, `_enums`) import as usual, and a name
is looked up in the module the SDK's layout gives it (`VirtualNetwork` in `virtual_network.py`). Any other
name (a function, an enum, a type the program never declared) runs the package's real `__init__` into the
same module first, so every name the package exports is still there.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path

import pulumi_azure_native

ROOT = "pulumi_azure_native"
# the packages whose resource classes components/ declares
PACKAGES = ("authorization", "batch", "managedidentity", "monitor", "network", "operationalinsights", "privatedns",
            "resources", "storage")
_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")  # PublicIPAddress -> Public_IP_Address


class LightPackage(types.ModuleType):
    """An azure-native package whose `__init__` runs only when a name is not a resource module's class."""

    def __init__(self, name: str, folder: Path) -> None:
        super().__init__(name)
        self.__spec__ = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                               submodule_search_locations=[str(folder)])
        self.__path__ = [str(folder)]
        self.__file__ = str(folder / "__init__.py")
        self.__package__ = name

    def __getattr__(self, name: str):
        folder = Path(self.__path__[0])
        if (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file():
            # a submodule (`from . import outputs`), or a function of the same name (`get_client_config`), which
            # the real `__init__` exports in place of its module
            module = importlib.import_module(f"{self.__name__}.{name}")
            found = getattr(module, name, module)
            setattr(self, name, found)
            return found
        module_name = _WORD.sub("_", name).lower()
        if (folder / f"{module_name}.py").is_file():
            found = getattr(importlib.import_module(f"{self.__name__}.{module_name}"), name, None)
            if found is not None:
                setattr(self, name, found)
                return found
        if self.__dict__.get("_loaded_in_full"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        self._loaded_in_full = True
        self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        return getattr(self, name)


def install(packages: tuple[str, ...] = PACKAGES) -> None:
    """Put a light package in place of each of `packages` the process has not loaded yet."""
    folder = Path(pulumi_azure_native.__file__).parent
    for package in packages:
        name = f"{ROOT}.{package}"
        current = sys.modules.get(name)
        if current is not None and type(current).__name__ != "_LazyModule":
            continue  # loaded (or light) already; a lazy module (pulumi's or importlib's) is not, yet
        light = LightPackage(name, folder / package)
        sys.modules[name] = light
        setattr(pulumi_azure_native, package, light)
