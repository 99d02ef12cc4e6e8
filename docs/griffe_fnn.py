"""A griffe extension for the docs site: fnn's docstrings as Markdown.

fnn's docstrings are written for ``help()`` and doctest: Google-style sections, ``>>>`` examples that CI
runs, and Sphinx roles (``:func:`ravel```, ``:class:`~fnn.errors.FormatError```). Markdown would read
``>>>`` as nested quotes and a role as text, so before mkdocstrings renders a docstring:

* each run of ``>>>``/``...`` lines and their output becomes a fenced ``pycon`` block;
* a role naming ``fnn.something`` becomes a cross-reference (``~`` shows the last part only), which the
  strict build checks; any other role (a relative name, a NumPy function) becomes code.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import griffe

_spec = importlib.util.spec_from_file_location("fnn_docs_hooks", Path(__file__).with_name("hooks.py"))
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)  # the list of pages: a role may link only to what the site has

_ROLE = re.compile(r":(?:py:)?(func|class|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
_PAGES = {"fnn", *hooks.PUBLIC_MODULES}


def _target(kind: str, target: str) -> str | None:
    """The identifier the site documents ``target`` under, or None when it has no entry of its own."""
    parts = target.split(".")
    if kind == "mod":
        return target if target in _PAGES else None
    if len(parts) == 2 and kind in ("func", "class") and hooks.shadowed(parts[1]):
        return f"{target}.{parts[1]}"  # fnn.fit is documented as fnn.fit.fit
    module = ".".join(parts[:-1])
    if module in hooks.INTERNAL:  # an implementation module: the name is documented where it is exported
        return None
    return target


def _role(m: re.Match) -> str:
    kind, tilde, target = m.groups()
    target = target.strip()
    shown = target.rsplit(".", 1)[-1] if tilde else target
    if target.startswith("fnn.") and re.fullmatch(r"[\w.]+", target):
        found = _target(kind, target)
        if found is not None:
            return f"[`{shown}`][{found}]"
    return f"`{shown}`"


def _fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                block.append(lines[i][len(indent) :])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def markdown_of(docstring: str) -> str:
    """An fnn docstring with its doctests fenced and its roles made Markdown (see the module)."""
    parts = re.split(r"(^\s*>>>.*?(?:\n\s*\n|\Z))", docstring, flags=re.M | re.S)
    # roles are rewritten outside the examples only: inside them they are Python
    return "".join(_fence_doctests(p) if p.lstrip().startswith(">>>") else _ROLE.sub(_role, p) for p in parts)


class FnnDocstrings(griffe.Extension):
    """Rewrites every docstring griffe loads from fnn (see the module)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
