"""Every numbered notebook runs headlessly through papermill with smoke=True.

A notebook that nothing runs rots (STYLE.md); this test also fails when a
notebook exists in notebooks/ but is missing from NOTEBOOKS.
"""

import json
from pathlib import Path

import pytest

NOTEBOOK_FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
# name -> extra parameters beside smoke=True
NOTEBOOKS = {
    "01_explore_synthetic_sun": {},
    "02_train_flare_forecaster": {},
    "03_prepare_real_data": {},
    "04_pretrain_simclr": {},
    "05_finetune_pretrained_encoder": {},
    "06_classify_active_regions_vit": {},
    "07_forecast_from_sequences": {},
    "08_train_conditional_diffusion": {},
    "09_sample_and_evaluate": {},
    "10_rebalance_with_generated_images": {},
    "11_explain_a_forecast": {},
    "12_split_trap": {},
}


def test_every_notebook_is_run_here():
    present = {path.stem for path in NOTEBOOK_FOLDER.glob("[0-9][0-9]_*.ipynb")}
    assert present == set(NOTEBOOKS), f"not run by tests: {present - set(NOTEBOOKS)}"


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(name):
    notebook = json.loads((NOTEBOOK_FOLDER / f"{name}.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "smoke" in "".join(tagged[0]["source"])


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_with_papermill(name, tmp_path, tfds_dir, monkeypatch):
    import papermill

    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("FLAREKIT_DATA_DIR", tfds_dir)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    papermill.execute_notebook(
        str(NOTEBOOK_FOLDER / f"{name}.ipynb"),
        str(tmp_path / f"{name}.out.ipynb"),
        parameters={"smoke": True, **NOTEBOOKS[name]},
        cwd=str(NOTEBOOK_FOLDER),
        kernel_name="python3",
        progress_bar=False,
    )
