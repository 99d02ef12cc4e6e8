"""The documentation site's build hooks (mkdocs ``hooks:``): one source per text.

* A guide page says ``<!-- readme: A tour -->`` and gets the README's section of that heading (down to
  the next ``## ``), ``<!-- readme: preamble -->`` the README above its first section, and
  ``<!-- include: CONTRIBUTING.md -->`` a file of the repository, so the README stays the front page on
  GitHub and the site never holds a second copy of its text. Links are rewritten for the page: ``docs/x.md``
  to the page's path to ``x.md``, and a link to a file outside ``docs/`` (``examples/...``) to its path
  as code, since the site does not serve those files.
* The API reference is generated: one page per public module (``PUBLIC_MODULES``) and one for the names
  of ``fnn.__all__``, so a name added to the API is in the reference without editing a page.

The same functions expand the pages for ``tests/test_docs.py``, which runs their Python blocks.
"""

from __future__ import annotations

import ast
import posixpath
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The modules a user imports (besides fnn itself): the reference has a page for each. tests/test_docs.py
# checks that every public name in them has a docstring and that every other module is listed in INTERNAL.
PUBLIC_MODULES = [
    "fnn.layers",
    "fnn.optim",
    "fnn.optim.schedules",
    "fnn.losses",
    "fnn.metrics",
    "fnn.data",
    "fnn.tree",
    "fnn.random",
    "fnn.initializers",
    "fnn.io",
    "fnn.callbacks",
    "fnn.early_stopping",
    "fnn.evaluation",
    "fnn.resume",
    "fnn.stacked",
    "fnn.summary",
    "fnn.minimize",
    "fnn.autodiff",
    "fnn.sweep",
    "fnn.sweep.space",
    "fnn.sweep.store",
    "fnn.testing",
    "fnn.sklearn",
    "fnn.plot",
    "fnn.errors",
]
# Modules whose public names are re-exported by a module above (documented there) or that are the
# implementation behind one: no page of their own.
INTERNAL = [
    "fnn.backprop",
    "fnn.fit",
    "fnn.network",
    "fnn.train",
    "fnn.cli",
    "fnn.io.checkpoints",
    "fnn.io.json_export",
    "fnn.sweep.summary",
    *(
        f"fnn.layers.{m}"
        for m in (
            "activations",
            "autodiff",
            "base",
            "batchnorm",
            "combinators",
            "conv",
            "dense",
            "dropout",
            "embedding",
            "normalization",
            "pooling",
            "recurrent",
            "reshape",
            "sequential",
        )
    ),
    *(f"fnn.optim.{m}" for m in ("adam", "adaptive", "base", "plateau", "registry", "sgd", "transforms")),
]

_SECTION = re.compile(r"^<!-- (readme|include): (.+?) -->$", re.M)
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def readme_section(heading: str, text: str | None = None) -> str:
    """The README's section under ``## heading`` (its ``###`` subsections too), or its preamble."""
    text = (ROOT / "README.md").read_text(encoding="utf-8") if text is None else text
    lines = text.splitlines()
    if heading == "preamble":
        start = 1 if lines and lines[0].startswith("# ") else 0
        end = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
        return "\n".join(lines[start:end]).strip() + "\n"
    try:
        start = lines.index(f"## {heading}")
    except ValueError:
        raise ValueError(f"README.md has no section '## {heading}'") from None
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"#{1,2} ", lines[i])), len(lines))
    return "\n".join(lines[start:end]).strip() + "\n"


def _relink(text: str, page: str) -> str:
    """Links of README/repository text made right for the page at ``page`` (a path under docs/)."""

    def fix(m: re.Match) -> str:
        bang, label, target = m.groups()
        if bang or re.match(r"[a-z]+:|#", target):  # images, URLs and anchors stay
            return m.group(0)
        path, _, anchor = target.partition("#")
        if path.startswith("docs/"):
            rel = posixpath.relpath(path[len("docs/") :], posixpath.dirname(page) or ".")
            return f"[{label}]({rel}{'#' + anchor if anchor else ''})"
        return f"`{path}`" if label.strip("`") == path else f"{label} (`{path}`)"

    return _LINK.sub(fix, text)


def expand(markdown: str, page: str) -> str:
    """``markdown`` of the page at ``page`` (relative to docs/) with its includes filled in."""

    def fill(m: re.Match) -> str:
        kind, what = m.groups()
        if kind == "readme":
            return _relink(readme_section(what), page)
        text = (ROOT / what).read_text(encoding="utf-8")
        if text.startswith("# "):  # the page has its own title
            text = text.split("\n", 1)[1]
        return _relink(text, page)

    return _SECTION.sub(fill, markdown)


def _all_of(module: str) -> list[str]:
    """The names in a module's ``__all__``, read from its source (the build imports nothing)."""
    base = ROOT / Path(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def shadowed(name: str) -> bool:
    """Whether ``fnn.<name>`` is a function of the same name as its module (``fnn.fit`` is ``fnn.fit.fit``)."""
    return (ROOT / "fnn" / f"{name}.py").exists() or (ROOT / "fnn" / name / "__init__.py").exists()


def reference_pages() -> dict[str, str]:
    """``{path under docs/: markdown}`` of the generated API reference."""
    names = [n for n in _all_of("fnn") if f"fnn.{n}" not in PUBLIC_MODULES and not n.startswith("_")]
    modules = [n for n in _all_of("fnn") if f"fnn.{n}" in PUBLIC_MODULES]
    top = [n for n in names if not shadowed(n)]
    fnn_page = (
        "# fnn\n\n::: fnn\n    options:\n      show_root_heading: false\n      show_submodules: false\n"
        + "      members:\n"
        + "".join(f"        - {n}\n" for n in top)
        # a function named as its module (fnn.fit): documented from the module, under its full name
        + "".join(f"\n::: fnn.{n}.{n}\n    options:\n      show_root_heading: true\n" for n in names if shadowed(n))
        + "\nThe modules it exports: "
        + ", ".join(f"[`fnn.{m}`](fnn.{m}.md)" for m in modules)
        + ".\n"
    )
    pages = {
        "reference/index.md": "# API reference\n\n"
        + "Every public name, from its docstring. [`fnn`](fnn.md) is the flat namespace most code uses;\n"
        + "the modules hold the rest.\n\n"
        + "".join(f"- [`{m}`]({m}.md)\n" for m in ["fnn", *PUBLIC_MODULES]),
        "reference/fnn.md": fnn_page,
    }
    for m in PUBLIC_MODULES:
        pages[f"reference/{m}.md"] = f"# {m}\n\n::: {m}\n    options:\n      show_root_heading: false\n"
    return pages


# ---------------------------------------------------------------- mkdocs hooks


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, content in reference_pages().items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    return expand(markdown, page.file.src_uri)
