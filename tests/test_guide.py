"""docs/coming-from-keras-sklearn-equinox.md: every Python block runs, in order, in one namespace."""

import pathlib
import re

GUIDE = pathlib.Path(__file__).parents[1] / "docs" / "coming-from-keras-sklearn-equinox.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_the_guides_snippets_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(GUIDE.read_text())
    assert len(blocks) >= 10
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{GUIDE.name}, block {i + 1}", "exec"), namespace)
    assert (tmp_path / "runs" / "guide" / "log.csv").exists()
    out = capsys.readouterr().out
    assert "takes probabilities, but the network ends in Dense(64→10)" in out


def test_the_readme_links_the_guide():
    readme = (GUIDE.parents[1] / "README.md").read_text()
    assert "docs/coming-from-keras-sklearn-equinox.md" in readme
