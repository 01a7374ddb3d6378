"""Sphinx configuration of matgrad's site: `sphinx-build -W --keep-going -n -c docs . build/site`.

Every derivation and notebook is picked up by the globs in index.md, a new one too
(notebooks/04_*.ipynb). The pages made from the registry, the `matgrad verify` table and
the links between them come from the extensions in _ext/.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import matgrad  # noqa: E402 - after the path is set, like the extensions

project = "matgrad"
author = "matgrad developers"
copyright = "matgrad developers, MIT licence"
release = version = matgrad.__version__

extensions = [
    "myst_nb",  # Markdown (MyST) and notebooks; includes myst_parser
    "sphinx.ext.autodoc",
    "numpydoc",  # the docstrings' numpydoc sections (Parameters, Returns, Examples)
    "mathml",
    "api_pages",
    "docstrings",
    "registry_pages",
    "verify_table",
]

# The source folder is the repository (docs/ holds only this configuration and the site's
# own pages), so derivations/ and notebooks/ are read where they live and their relative
# links resolve as they do on GitHub.
root_doc = "docs/index"
include_patterns = ["docs/**", "derivations/*.md", "notebooks/*.ipynb"]
exclude_patterns = [".*", "build", "dist", "**/.ipynb_checkpoints"]  # not even walked
templates_path = ["_templates"]

# --- Markdown: the same math syntax that derivations/texcheck.py reads and checks.
myst_enable_extensions = ["dollarmath"]
myst_dmath_allow_space = True
myst_dmath_allow_digits = True
myst_dmath_double_inline = True
myst_heading_anchors = 3  # links such as sigmoid_net.md#where-the-two-placements-differ

# --- Notebooks: shown with the outputs they store (notebooks/build.py makes them), never run.
nb_execution_mode = "off"

# --- Math: MathML at build time (_ext/mathml.py), no script and no network when reading.
html_math_renderer = "mathml"

# --- API reference: every module of the package, from its docstrings.
autodoc_typehints = "signature"
# Defaults as the source writes them (``vjp=vjp``), not their repr (a module's file path).
autodoc_preserve_defaults = True
# numpy's aliases by name, not expanded into unions of private numpy types.
autodoc_type_aliases = {name: f"numpy.typing.{name}" for name in ("ArrayLike", "DTypeLike")}
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # a subclass of a sympy class would show sympy's docstring
numpydoc_show_class_members = False  # api_pages.py lists the members itself

# Without network there is no intersphinx inventory of numpy, sympy or Python: names of
# other projects in signatures stay plain text. Every name of matgrad must resolve.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|sympy|collections|types|typing|typing_extensions|argparse|pathlib|enum|fractions|dask|io)(\..*)?",
    ),
    # numpy.typing.DTypeLike expanded to a union that Sphinx cannot split into names.
    (r"py:class", r".*numpy\._typing\..*"),
    # A private helper class in a public signature (a return type) is shown as its name.
    (r"py:class", r"matgrad(\.\w+)*\._\w+"),
]

# --- HTML.
html_theme = "furo"
html_title = f"matgrad {version}"
html_static_path = ["_static"]
html_css_files = ["matgrad.css"]
# A search result's summary is fetched from _sources/, which a browser refuses for a site
# opened from disk (file://): the results alone, so that search works offline.
html_show_search_summary = False
html_copy_source = True  # _sources/ lets a reader (and the browser test) see what a page came from
html_show_sphinx = False
