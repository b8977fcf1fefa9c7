"""The guided notebook runs top to bottom through a real Jupyter kernel, and ships its outputs."""

from pathlib import Path

import nbclient  # the test extra installs them: a missing one fails, never skips
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "cost-lesson.ipynb"


def test_saved_notebook_has_its_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # sample, BADGE, projection (Brown adds two when it is cached)


@pytest.mark.slow
def test_notebook_executes_in_a_kernel(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs if o.output_type == "stream")
    assert "minority: spam (3.0 % of the labelled rows; inferred, rule rarest" in text
    assert "AnchorAL scored" in text and "of the pool" in text
    assert "A projection, not a measurement: the fine-tuned encoder costs 24.1 ms" in text
    assert "so at 10M rows a round costs 2.2 days against 24 s." in text
