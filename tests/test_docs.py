"""The documentation: every Python block of docs/*.md runs, every public name has a docstring, and the
site's pages (docs/hooks.py) cover every module and find every README section they include.

The site itself is built by .ci/run (``mkdocs build --strict``: a broken cross-reference fails it).
"""

import importlib
import importlib.util
import inspect
import pathlib
import re
import types

import pytest

import fnn

ROOT = pathlib.Path(__file__).parents[1]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def _hooks():
    spec = importlib.util.spec_from_file_location("fnn_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


def _after_the_keras_guide(tmp_path, out):
    assert (tmp_path / "runs" / "guide" / "log.csv").exists()
    assert "takes probabilities, but the network ends in Dense(64→10)" in out


# What a page's blocks must have done besides running (a page with none: running is the check).
AFTER = {"coming-from-keras-sklearn-equinox.md": _after_the_keras_guide}
AT_LEAST = {"coming-from-keras-sklearn-equinox.md": 10}


@pytest.mark.parametrize("page", [p for p in PAGES if BLOCK.search((DOCS / p).read_text())])
def test_every_python_block_of_a_page_runs_in_order(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall((DOCS / page).read_text())
    assert len(blocks) >= AT_LEAST.get(page, 1)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}, block {i + 1}", "exec"), namespace)
    if page in AFTER:
        AFTER[page](tmp_path, capsys.readouterr().out)


def test_the_pages_with_blocks_include_the_keras_guide():
    # the generalised test must still find the page it was written for
    assert "coming-from-keras-sklearn-equinox.md" in [p for p in PAGES if BLOCK.search((DOCS / p).read_text())]


@pytest.mark.parametrize("page", PAGES)
def test_every_readme_section_and_file_a_page_includes_exists(page):
    text = (DOCS / page).read_text()
    expanded = hooks.expand(text, page)
    assert hooks._SECTION.search(expanded) is None  # no directive line left (text may quote one)


def test_a_readme_section_ends_at_the_next_section_and_keeps_its_subsections():
    readme = "# t\n\nintro\n\n## A\n\na\n\n### A.1\n\nb\n\n## B\n\nc\n"
    assert hooks.readme_section("A", readme) == "## A\n\na\n\n### A.1\n\nb\n"
    assert hooks.readme_section("preamble", readme) == "intro\n"
    with pytest.raises(ValueError, match="no section '## C'"):
        hooks.readme_section("C", readme)


def test_links_of_included_text_point_where_the_site_has_the_page():
    text = "[d](docs/design.md#x), [`examples/a.py`](examples/a.py), [the bench](benchmarks/b.py), [w](https://x.org)"
    assert hooks._relink(text, "guides/tour.md") == (
        "[d](../design.md#x), `examples/a.py`, the bench (`benchmarks/b.py`), [w](https://x.org)"
    )


def _modules_on_disk():
    for path in sorted((ROOT / "fnn").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        yield ".".join(p for p in parts if p != "__init__")


def test_every_module_has_a_reference_page_or_is_named_internal():
    placed = {"fnn", *hooks.PUBLIC_MODULES, *hooks.INTERNAL}
    assert [m for m in _modules_on_disk() if m not in placed] == []
    assert [m for m in placed if m not in set(_modules_on_disk())] == []


def _public(module):
    for name in getattr(module, "__all__", []):
        yield name, getattr(module, name)


def _lacks_docstring(obj):
    if isinstance(obj, types.ModuleType):
        return not (obj.__doc__ or "").strip()
    if inspect.isclass(obj):
        return not (obj.__dict__.get("__doc__") or "").strip()
    if callable(obj):
        return not (getattr(obj, "__doc__", None) or "").strip()
    return False  # constants (FORMAT_VERSION, OPTIMIZERS, ...): documented where their module says so


def test_every_public_name_has_a_docstring():
    missing = []
    for name in ["fnn", *hooks.PUBLIC_MODULES]:
        module = importlib.import_module(name)
        if _lacks_docstring(module):
            missing.append(name)
        missing += [f"{name}.{n}" for n, obj in _public(module) if _lacks_docstring(obj)]
    assert missing == []


def test_the_readme_links_the_docs_and_says_how_to_serve_them():
    readme = (ROOT / "README.md").read_text()
    assert "docs/coming-from-keras-sklearn-equinox.md" in readme
    assert "mkdocs serve" in readme and "CONTRIBUTING.md" in readme


def test_the_changelog_s_newest_release_is_fnn_s_version_and_pyproject_reads_it():
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases and releases[0] == fnn.__version__
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "fnn._version.__version__"' in pyproject
    assert not re.search(r'^version = "', pyproject, re.M)  # one source: no second number


def _functions_of(name, obj):
    if inspect.isfunction(obj):
        yield name, obj
    elif inspect.isclass(obj):
        for attr, value in vars(obj).items():
            if inspect.isfunction(value) and not attr.startswith("_"):
                yield f"{name}.{attr}", value


def test_every_public_function_and_method_is_fully_annotated():
    # mypy checks the annotations; this that the public API has them (py.typed promises it)
    bare = []
    for module_name in ["fnn", *hooks.PUBLIC_MODULES]:
        module = importlib.import_module(module_name)
        for name, obj in _public(module):
            for qualname, fn in _functions_of(f"{module_name}.{name}", obj):
                sig = inspect.signature(inspect.unwrap(fn))
                unannotated = [
                    p for p, v in sig.parameters.items() if p not in ("self", "cls") and v.annotation is v.empty
                ]
                if unannotated or sig.return_annotation is sig.empty:
                    bare.append((qualname, unannotated))
    assert bare == []


def test_the_package_ships_its_type_marker():
    assert (ROOT / "fnn" / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
