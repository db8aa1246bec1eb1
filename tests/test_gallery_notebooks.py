"""The gallery's notebooks: each is what `chainrule explain --docs` writes (so it cannot drift
from its example), and each runs in a Jupyter kernel (nbclient) without an error, printing the
walkthrough its Markdown page shows and rendering the graph and the trace inline."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chainrule import gallery
from chainrule.cli.explain import write_notebook
from chainrule.viz.graph import dot_available

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"


@pytest.mark.parametrize("name", gallery.names())
def test_the_notebook_is_the_generated_one(name, tmp_path):
    assert (GALLERY / f"{name}.ipynb").read_text() == write_notebook(name, tmp_path).read_text(), \
        f"docs/gallery/{name}.ipynb is stale: run `chainrule explain --docs docs/gallery`"
    nb = json.loads((GALLERY / f"{name}.ipynb").read_text())
    assert all(c.get("outputs", []) == [] for c in nb["cells"])  # stored without outputs


@pytest.mark.parametrize("name", gallery.names())
def test_the_notebook_runs_and_shows_what_the_page_shows(name):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(GALLERY / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(GALLERY)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in code[0].outputs if o.output_type == "stream")
    page = (GALLERY / f"{name}.md").read_text()
    walkthrough = re.search(r"## Walkthrough\n\n```text\n(.*?)\n```", page, re.S).group(1)
    assert printed.rstrip() == walkthrough.rstrip()
    (graph,) = [o for o in code[1].outputs if o.output_type == "execute_result"]
    assert ("image/svg+xml" if dot_available() else "text/plain") in graph["data"]
    (table,) = [o for o in code[2].outputs if o.output_type == "execute_result"]
    assert '<table class="chainrule-trace">' in table["data"]["text/html"]
