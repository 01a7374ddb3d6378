"""The API reference: a page per module of matgrad, written when the build starts.

The package is walked, so a new module is documented without anyone listing it; the
modules of a subpackage share its page (matgrad.engine.parser is on matgrad.engine's),
which keeps the site to a few dozen pages. A module documents its public names, each
exactly once:

- a module with ``__all__`` documents those names (``matgrad.testing`` documents
  ``check_gradients``, which users import from there);
- any other module documents the public functions, classes and data it defines itself,
  except what a package above it re-exports in ``__all__`` (documented there).

Module-level data gets an explicit ``autodata`` entry because autodoc leaves out data
without a doc-comment, and the docstrings refer to tables such as ``RULES`` by name.
The pages are reST under docs/api/ (ignored by git), rewritten only when they change.

A reference to an object by another of its names (its defining module's, or a name it
is imported under, as docstrings write them) resolves to the one place it is documented.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import types
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

from docstrings import escape_prose
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.pycode import ModuleAnalyzer

PACKAGE = "matgrad"
SKIPPED_MODULES = {"matgrad.__main__"}  # importing it runs the command line
SHORT_VALUE = 60  # characters of repr(value) shown for module-level data


def modules() -> list[ModuleType]:
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE] + [
        info.name
        for info in pkgutil.walk_packages(package.__path__, PACKAGE + ".")
        if info.name not in SKIPPED_MODULES
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def _assigned_names(module: ModuleType) -> list[str]:
    """Names bound by a top-level assignment in the module's source, in order."""
    source = inspect.getsource(module)
    names: list[str] = []
    for statement in ast.parse(source).body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _reexported_above(module: ModuleType) -> set[str]:
    """Names that a package above this module lists in ``__all__``."""
    names: set[str] = set()
    parts = module.__name__.split(".")
    for depth in range(1, len(parts)):
        names |= set(getattr(importlib.import_module(".".join(parts[:depth])), "__all__", ()))
    return names


def public_names(module: ModuleType) -> list[str]:
    """What the module's page documents (see the module docstring)."""
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [n for n in exported if not inspect.ismodule(getattr(module, n))]
    above = _reexported_above(module)
    defined = [
        name
        for name, value in vars(module).items()
        if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__
    ]
    data = [n for n in _assigned_names(module) if not inspect.ismodule(getattr(module, n, None))]
    ordered = list(dict.fromkeys(defined + data))
    return [n for n in ordered if not n.startswith("_") and n not in above]


def _is_type_alias(value: Any) -> bool:
    """``Array = NDArray[Any]``, ``T = TypeVar("T")``: names of types, not values."""
    return isinstance(value, (typing.TypeVar, types.GenericAlias, types.UnionType)) or (
        type(value).__module__ == "typing"
    )


def _entry(module: ModuleType, name: str) -> str:
    value = getattr(module, name)
    target = f"{module.__name__}.{name}"
    if _is_type_alias(value):
        return f".. py:type:: {name}\n"  # in the module that automodule made current
    if inspect.isclass(value) and issubclass(value, BaseException):
        return f".. autoexception:: {target}\n   :members:\n"
    if inspect.isclass(value):
        return f".. autoclass:: {target}\n   :members:\n   :undoc-members:\n"
    if inspect.isroutine(value):
        return f".. autofunction:: {target}\n"
    # Data: its doc-comment (#:) if it has one, never the docstring of its value's type;
    # its value when that is short enough to read.
    short = len(repr(value)) <= SHORT_VALUE
    if ("", name) in ModuleAnalyzer.for_module(module.__name__).find_attr_docs():
        return f".. autodata:: {target}\n" + ("" if short else "   :no-value:\n")
    return f".. py:data:: {name}\n" + (f"   :value: {value!r}\n" if short else "")


def page_of(module: ModuleType) -> str:
    """The page a module is documented on: its own, or its subpackage's (matgrad.engine.*)."""
    return ".".join(module.__name__.split(".")[:2])


def module_section(module: ModuleType, underline: str) -> str:
    title = f"``{module.__name__}``"
    entries = "\n".join(_entry(module, name) for name in public_names(module))
    return f"{title}\n{underline * len(title)}\n\n.. automodule:: {module.__name__}\n\n{entries}"


def page(modules_of_page: list[ModuleType]) -> str:
    """The first module (the subpackage) as the page's title, its submodules as sections."""
    return "\n".join(module_section(m, "=" if i == 0 else "-") for i, m in enumerate(modules_of_page))


def _summary(module: ModuleType) -> str:
    """The docstring's first paragraph, its cross-references as plain code (no module context here)."""
    first = (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ")
    return escape_prose([re.sub(r":\w+:`~?([^`]+)`", r"``\1``", first)])[0]


def index_page(found: list[ModuleType]) -> str:
    rows = []
    for module in found:
        summary = _summary(module)
        rows.append(f"   * - :mod:`{module.__name__}`\n     - {summary}")
    toctree = "\n".join(f"   {name}" for name in dict.fromkeys(page_of(m) for m in found))
    return (
        "API reference\n=============\n\n"
        "Every module of matgrad, generated from its docstrings (numpydoc format).\n\n"
        ".. list-table::\n   :header-rows: 1\n\n   * - module\n     - what it is\n"
        + "\n".join(rows)
        + f"\n\n.. toctree::\n   :hidden:\n\n{toctree}\n"
    )


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


#: (name, id of the object) -> the full name it is documented under.
DOCUMENTED: dict[tuple[str, int], str] = {}


def write_pages(app: Sphinx) -> None:
    folder = Path(app.confdir) / "api"
    folder.mkdir(exist_ok=True)
    found = modules()
    for module in found:
        for name in public_names(module):
            DOCUMENTED[name, id(getattr(module, name))] = f"{module.__name__}.{name}"
    grouped: dict[str, list[ModuleType]] = {}
    for module in found:
        grouped.setdefault(page_of(module), []).append(module)
    pages = {f"{name}.rst": page(members) for name, members in grouped.items()}
    pages["index.rst"] = index_page(found)
    for stale in set(p.name for p in folder.glob("*.rst")) - set(pages):
        (folder / stale).unlink()  # a module that was removed or renamed
    for name, text in pages.items():
        _write(folder / name, text)


def _lookup(dotted: str) -> Any:
    """The object a dotted name denotes (module, then attributes), or None."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            value = getattr(value, attribute, None)
        return value
    return None


def resolve_other_name(
    app: Sphinx, env: BuildEnvironment, node: addnodes.pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    """A Python reference by a name the object is not documented under, sent to the one it is."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    # Names in a docstring are relative to where it was written: autodoc's source says
    # "docstring of matgrad.symbolic.checking.check" even where check is documented as
    # matgrad.symbolic.check.
    written_in = (node.source or "").rpartition("docstring of ")[2].split(".")
    scopes = [node.get("py:module")] + [".".join(written_in[:n]) for n in range(len(written_in), 0, -1)]
    for candidate in [target] + [f"{scope}.{target}" for scope in scopes if scope]:
        if not candidate.startswith(PACKAGE + "."):
            continue
        value = _lookup(candidate)
        documented = DOCUMENTED.get((candidate.rsplit(".", 1)[-1], id(value)))
        if value is not None and documented:
            return env.get_domain("py").resolve_xref(  # type: ignore[no-any-return]
                env, node["refdoc"], app.builder, node["reftype"], documented, node, contnode
            )
    return None


def show_default_factories(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: str | None
) -> tuple[str | None, str | None] | None:
    """``x: dict = <factory>`` as ``x: dict = dict()``: Sphinx cannot parse ``<factory>``
    and would split the whole signature at its commas."""
    if signature is None or "<factory>" not in signature or not dataclasses.is_dataclass(obj):
        return None
    for field in dataclasses.fields(obj):
        if field.default_factory is not dataclasses.MISSING:
            factory = getattr(field.default_factory, "__name__", "...")
            signature = re.sub(rf"\b({field.name}: [^=]+= )<factory>", rf"\g<1>{factory}()", signature)
    return signature, annotation


_FORWARD_REF = re.compile(r"TypeAliasForwardRef\('([^']+)'\)")


def show_aliases_inside_generics(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: str | None
) -> tuple[str | None, str | None] | None:
    """``Mapping[str, ArrayLike]`` as written: Sphinx 9 prints an alias of ``autodoc_type_aliases``
    inside a generic as the repr ``TypeAliasForwardRef('numpy.typing.ArrayLike')``."""
    if not any(text and "TypeAliasForwardRef" in text for text in (signature, annotation)):
        return None
    return tuple(_FORWARD_REF.sub(r"\1", text) if text else text for text in (signature, annotation))  # type: ignore[return-value]


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("autodoc-process-signature", show_aliases_inside_generics)
    app.connect("builder-inited", write_pages)
    app.connect("autodoc-process-signature", show_default_factories)
    app.connect("missing-reference", resolve_other_name)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
