import importlib
import importlib.util
import pkgutil
from types import ModuleType


def feature_modules(name: str) -> list[ModuleType]:
    """Import the `name` module of every feature package (auth, users, each resource), sorted.

    A new resource package is picked up by its presence alone: no shared list to edit.
    """
    package = importlib.import_module(__package__ or __name__)
    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        module_name = f"{package.__name__}.{info.name}.{name}"
        if info.ispkg and importlib.util.find_spec(module_name) is not None:
            modules.append(importlib.import_module(module_name))
    return modules
