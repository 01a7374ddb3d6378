"""The documentation site, built with the README's command and read in a real browser.

The site is built once (``sphinx-build -W --keep-going -n``: a warning fails it) and every
page is opened from disk in Debian's headless Chromium, with the network switched off, as
a reader who downloaded it would open it. Each page must load without console errors
and without asking for anything but its own files; every ``$$`` block and ``$…$`` span of
its source must be on it as rendered MathML (not raw TeX, not a render error); every link
between pages must land on an existing page and anchor; search must find a derivation.
Screenshots of the affine derivation, on a desktop and on a 400 px phone, are written to
$MATGRAD_ARTIFACTS (by default build/test-artifacts/, which git ignores) for a person to
look at.

Skipped where the tools are missing: Sphinx and the site's extensions
(``pip install ".[site]"``), or Chromium at /usr/bin/chromium (Debian's ``chromium``
package). CI installs both and sets MATGRAD_REQUIRE_SITE, which makes a missing tool a
failure rather than a skip.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

import matgrad
from matgrad.registry import OBJECTIVES, Gradient

CHROMIUM = Path("/usr/bin/chromium")


def _skip_without(reason: str) -> None:
    """Skip the module; where MATGRAD_REQUIRE_SITE is set (.ci/run sets it), fail instead."""
    if os.environ.get("MATGRAD_REQUIRE_SITE"):
        pytest.fail(f"MATGRAD_REQUIRE_SITE is set but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


for module in ("sphinx", "myst_nb", "furo", "numpydoc", "playwright"):
    if importlib.util.find_spec(module) is None:
        _skip_without(f'the site needs {module}: pip install ".[site]"')
if not CHROMIUM.exists():
    _skip_without("no /usr/bin/chromium (Debian: apt-get install chromium)")

from docutils.nodes import make_id  # noqa: E402 - after the skips: docutils comes with sphinx
from playwright.sync_api import Page, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Flags that work on the closed network: without the background-networking ones Chromium
# tries to reach Google's services at start and logs the refused connections as errors.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_WIDTH = 400

# What one page shows, read in the browser; the JavaScript below fills it.
READ_PAGE = """() => {
  const main = document.querySelector("article[role=main]") || document.body;
  const equations = [...main.querySelectorAll(".mg-math")].map((element) => {
    const maths = [...element.querySelectorAll("math")];
    return {
      tex: element.dataset.tex,
      // a title with math, repeated in a table of contents: rendered, but not the page's own
      inToc: element.closest(".toctree-wrapper") !== null,
      rendered: maths.length > 0 && maths.every((m) => {
        const box = m.getBoundingClientRect();
        // "block math" / "inline math": laid out by the browser's MathML engine
        return getComputedStyle(m).display.includes("math") && box.width > 0 && box.height > 0;
      }),
    };
  });
  const prose = main.cloneNode(true);
  prose.querySelectorAll("pre, code, math, script, style").forEach((n) => n.remove());
  return {
    equations,
    errors: main.querySelectorAll(".mg-math-error").length,
    prose: prose.textContent,
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    ids: [...document.querySelectorAll("[id]")].map((e) => e.id),
    images: [...main.querySelectorAll("img")].map((i) => ({
      src: i.src, shown: i.complete && i.naturalWidth > 0,
    })),
    width: document.documentElement.scrollWidth,
  };
}"""


@dataclass
class PageView:
    """One page as the browser showed it."""

    path: str  # relative to the site, e.g. "derivations/affine.html"
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    shown: dict[str, Any] = field(default_factory=dict)
    phone_width: int | None = None  # the page's scroll width in a 400 px window


def _texcheck() -> Any:
    """derivations/texcheck.py: the Markdown math reader the derivation checks use."""
    spec = importlib.util.spec_from_file_location("texcheck", ROOT / "derivations" / "texcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("texcheck", module)
    spec.loader.exec_module(module)
    return module


def markdown_math(text: str) -> int:
    """How many ``$$`` blocks and ``$…$`` spans a Markdown text has."""
    texcheck = _texcheck()
    return len(list(texcheck.every_math(texcheck.read_document(text))))


def notebook_math(path: Path) -> int:
    """Math of the Markdown cells, and each stored LaTeX output (shown as one equation)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    count = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            count += markdown_math("".join(cell["source"]))
        count += sum("text/latex" in output.get("data", {}) for output in cell.get("outputs", []))
    return count


def definitions(tex: str) -> int:
    """``S = …,\\quad R = …`` is shown as one equation per definition."""
    return len(re.split(r",\s*\\quad", tex)) if tex else 0


def formula_count(table: Mapping[str, Gradient]) -> int:
    """One equation per argument, and one more for a row bias's own form."""
    return sum(1 + bool(g.row_latex) for g in table.values())


def registry_math() -> int:
    """The formulas page: each objective's value and definitions, each gradient (full and row),
    the second order's tangents and each block of ∇²f·V and 2JᵀJ·V."""
    return sum(
        1
        + definitions(o.where_latex)
        + formula_count(o.gradients)
        + definitions(o.second_order.tangent_latex)
        + definitions(o.second_order.gauss_newton_where_latex)
        + formula_count(o.second_order.hvp)
        + formula_count(o.second_order.gauss_newton)
        for o in OBJECTIVES
    )


def expected_math(page: str) -> int:
    """The equations of a page's source (the API pages' docstrings write math in Unicode)."""
    source = ROOT / page.removesuffix(".html")
    count = 0
    for suffix, counter in (
        (".md", lambda p: markdown_math(p.read_text(encoding="utf-8"))),
        (".ipynb", notebook_math),
    ):
        if source.with_suffix(suffix).is_file():
            count += counter(source.with_suffix(suffix))
    return count + (registry_math() if page == "docs/formulas.html" else 0)


def label_id(*parts: str) -> str:
    """The HTML id of a label of docs/_ext/registry_pages.py, e.g. formula-affine-W."""
    return make_id("-".join(parts))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with the README's command (into a temporary folder)."""
    out = tmp_path_factory.mktemp("site")
    command = re.search(
        r"sphinx-build ([^\n`]+?) build/site\n", (ROOT / "README.md").read_text(encoding="utf-8")
    )
    assert command, "the README gives the site's build command: sphinx-build ... build/site"
    start = time.perf_counter()
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", *command.group(1).split(), "-q", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    print(f"\nsite built in {time.perf_counter() - start:.1f} s: {out}")
    assert build.returncode == 0, build.stdout + build.stderr
    return out


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MATGRAD_ARTIFACTS")
    path = Path(folder) if folder else ROOT / "build" / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def html_pages(site: Path) -> list[str]:
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if not p.relative_to(site).parts[0].startswith("_")  # _static, _sources: not pages
    )


def _watch(page: Page, view: list[PageView]) -> None:
    """Record console errors, uncaught exceptions and requests into the last view."""

    def console(message: Any) -> None:
        if message.type == "error":
            view[-1].console_errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: view[-1].console_errors.append(str(error)))
    page.on("request", lambda request: view[-1].requests.append(request.url))


def _is_reading_page(path: str) -> bool:
    """Pages a phone reader reads (the API reference is for desktops too, but is not prose)."""
    return not path.startswith("docs/api/") and path not in (
        "genindex.html",
        "py-modindex.html",
        "search.html",
    )


@pytest.fixture(scope="module")
def browser_pages(site: Path, artifacts: Path) -> dict[str, PageView]:
    """Every page, opened in Chromium at desktop width, then the reading pages at phone width."""
    views: dict[str, PageView] = {}
    start = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, offline=True)
        current: list[PageView] = []
        _watch(page, current)
        for path in html_pages(site):
            current.append(PageView(path))
            page.goto((site / path).as_uri(), wait_until="load")
            current[-1].shown = page.evaluate(READ_PAGE)
            views[path] = current[-1]
            if path == "derivations/affine.html":
                page.screenshot(path=artifacts / "affine-desktop.png", full_page=True)
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 860})
        for path in filter(_is_reading_page, list(views)):
            current.append(views[path])  # errors at phone width count too
            page.goto((site / path).as_uri(), wait_until="load")
            views[path].phone_width = page.evaluate("document.documentElement.scrollWidth")
            if path == "derivations/affine.html":
                page.screenshot(path=artifacts / "affine-phone.png", full_page=True)
        browser.close()
    print(f"\n{len(views)} pages read in Chromium in {time.perf_counter() - start:.1f} s")
    print(f"screenshots of the affine derivation (desktop, phone): {artifacts}/affine-{{desktop,phone}}.png")
    return views


def test_every_page_loads_without_console_errors(browser_pages: dict[str, PageView]) -> None:
    assert len(browser_pages) > 10
    errors = {path: view.console_errors for path, view in browser_pages.items() if view.console_errors}
    assert not errors


def test_pages_ask_for_nothing_but_their_own_files(browser_pages: dict[str, PageView]) -> None:
    """Offline: no script, font or stylesheet from a CDN; math needs no request at all."""
    remote = {
        path: [url for url in view.requests if urlparse(url).scheme not in ("file", "data", "blob", "about")]
        for path, view in browser_pages.items()
    }
    assert not {path: urls for path, urls in remote.items() if urls}


def test_every_equation_of_the_source_is_rendered(browser_pages: dict[str, PageView]) -> None:
    """As many rendered equations as the source has ``$$`` blocks and ``$…$`` spans, no raw TeX."""
    expected = {path: expected_math(path) for path in browser_pages}
    assert expected["derivations/affine.html"] >= 40 and expected["notebooks/03_verify.html"] > 10
    problems = {}
    for path, view in browser_pages.items():
        unrendered = [e["tex"] for e in view.shown["equations"] if not e["rendered"]]
        equations = [e for e in view.shown["equations"] if not e["inToc"]]
        raw_tex = sorted(set(re.findall(r"\\[A-Za-z]+|\$\$", view.shown["prose"])))
        if len(equations) != expected[path] or unrendered or view.shown["errors"] or raw_tex:
            problems[path] = {
                "rendered equations": len(equations),
                "in the source": expected[path],
                "not laid out": unrendered[:3],
                "render errors": view.shown["errors"],
                "raw TeX in the text": raw_tex[:5],
            }
    assert not problems


def test_links_between_pages_land_on_a_page_and_an_anchor(
    site: Path, browser_pages: dict[str, PageView]
) -> None:
    checked, broken = 0, []
    for path, view in browser_pages.items():
        for link in view.shown["links"]:
            url = urlparse(link)
            if url.scheme != "file":
                continue  # the web (the README's references), not followed offline
            target = Path(unquote(url.path))
            relative = target.relative_to(site).as_posix() if target.is_relative_to(site) else None
            checked += 1
            if relative is None or not target.is_file():
                broken.append(f"{path} -> {link}: no such file in the site")
            elif (
                url.fragment
                and relative in browser_pages
                and url.fragment not in browser_pages[relative].shown["ids"]
            ):
                broken.append(f"{path} -> {link}: no anchor #{url.fragment}")
    assert checked > 500
    assert not broken


def test_every_notebook_is_a_page_with_its_stored_plots(browser_pages: dict[str, PageView]) -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 3
    for notebook in notebooks:
        view = browser_pages[f"notebooks/{notebook.stem}.html"]
        stored = json.loads(notebook.read_text(encoding="utf-8"))
        plots = sum(
            "image/png" in output.get("data", {})
            for cell in stored["cells"]
            for output in cell.get("outputs", [])
        )
        assert len(view.shown["images"]) == plots, notebook.name
        assert all(image["shown"] for image in view.shown["images"]), notebook.name


def test_every_formula_links_to_its_derivation_function_and_proof_and_back(
    browser_pages: dict[str, PageView],
) -> None:
    """From the registry, not from the pages: every gradient of every objective, both ways."""
    formulas = browser_pages["docs/formulas.html"]
    verify = browser_pages["docs/verify.html"]
    for objective in OBJECTIVES:
        derivation = browser_pages[objective.derivation.replace(".md", ".html")]
        reference = browser_pages[f"docs/api/matgrad.{objective.name}.html"]
        function = f"matgrad.{objective.name}.grad"
        assert function in reference.shown["ids"]
        assert any(
            link.endswith(f"docs/formulas.html#{label_id('formula', objective.id)}")
            for link in reference.shown["links"]
        )
        for argument, gradient in objective.gradients.items():
            assert label_id("verify", objective.id, argument) in verify.shown["ids"]
            for row in (False, True) if gradient.row_latex else (False,):
                suffix = ("row",) if row else ()
                formula = label_id("formula", objective.id, argument, *suffix)
                section = label_id("derivation", objective.id, argument, *suffix)
                assert formula in formulas.shown["ids"]
                assert section in derivation.shown["ids"]
                for page, target in (
                    (formulas, f"{objective.derivation.replace('.md', '.html')}#{section}"),
                    (formulas, f"docs/api/matgrad.{objective.name}.html#{function}"),
                    (formulas, f"docs/verify.html#{label_id('verify', objective.id, argument)}"),
                    (derivation, f"docs/formulas.html#{formula}"),
                    (verify, f"docs/formulas.html#{label_id('formula', objective.id, argument)}"),
                ):
                    assert any(link.endswith(target) for link in page.shown["links"]), (page.path, target)


SECOND_ORDER_FUNCTIONS = {"hvp": "hvp", "gauss_newton": "gauss_newton_product"}


def test_every_second_order_formula_links_to_its_derivation_function_and_proof_and_back(
    browser_pages: dict[str, PageView],
) -> None:
    """Each block of ∇²f·V and 2JᵀJ·V of every objective, both ways, from the registry."""
    formulas = browser_pages["docs/formulas.html"]
    verify = browser_pages["docs/verify.html"]
    for objective in OBJECTIVES:
        document, _, anchor = objective.second_order_derivation.partition("#")
        derivation = browser_pages[document.replace(".md", ".html")]
        section = label_id("derivation", objective.id, "second-order")
        assert section in derivation.shown["ids"] and anchor in derivation.shown["ids"]
        overview = label_id("formula", objective.id, "second-order")
        assert any(link.endswith(f"docs/formulas.html#{overview}") for link in derivation.shown["links"])
        for quantity, function in SECOND_ORDER_FUNCTIONS.items():
            table = getattr(objective.second_order, quantity)
            reference = f"docs/api/matgrad.{objective.name}.html#matgrad.{objective.name}.{function}"
            for argument, entry in table.items():
                row_id = label_id("verify", objective.id, argument, quantity)
                back = label_id("formula", objective.id, argument, quantity)
                assert row_id in verify.shown["ids"]
                for row in (False, True) if entry.row_latex else (False,):
                    suffix = ("row",) if row else ()
                    formula = label_id("formula", objective.id, argument, quantity, *suffix)
                    assert formula in formulas.shown["ids"]
                    for page, target in (
                        (formulas, f"{document.replace('.md', '.html')}#{section}"),
                        (formulas, reference),
                        (formulas, f"docs/verify.html#{row_id}"),
                        (verify, f"docs/formulas.html#{back}"),
                    ):
                        assert any(link.endswith(target) for link in page.shown["links"]), (page.path, target)


def test_the_api_reference_documents_every_public_function(browser_pages: dict[str, PageView]) -> None:
    """Every public function and class of every module, under its own name or a package's that exports it."""
    documented = {
        i for path, view in browser_pages.items() if path.startswith("docs/api/") for i in view.shown["ids"]
    }
    missing = []
    for info in pkgutil.walk_packages(matgrad.__path__, "matgrad."):
        if info.name == "matgrad.__main__":
            continue  # importing it runs the command line
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            if value.__module__ != module.__name__:
                continue  # imported: documented where it is defined
            packages = [".".join(info.name.split(".")[:n]) for n in range(1, info.name.count(".") + 1)]
            names = [f"{info.name}.{name}"] + [
                f"{p}.{name}" for p in packages if name in getattr(importlib.import_module(p), "__all__", ())
            ]
            if not documented & set(names):
                missing.append(names[0])
    assert not missing


def test_phone_width_pages_do_not_scroll_sideways(browser_pages: dict[str, PageView]) -> None:
    """At 400 px text wraps and equations break at '='; a too-wide equation or table scrolls in its box."""
    widths = {path: view.phone_width for path, view in browser_pages.items() if view.phone_width is not None}
    assert "derivations/affine.html" in widths
    assert {path: w for path, w in widths.items() if w > PHONE_WIDTH} == {}


def test_search_finds_a_derivation_offline(site: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(offline=True)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((site / "search.html").as_uri() + "?q=cyclicity")
        page.wait_for_selector("ul.search li a", timeout=20_000)
        found = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.href)")
        browser.close()
    assert not errors
    assert any(link.split("#")[0].endswith("derivations/README.html") for link in found), found
