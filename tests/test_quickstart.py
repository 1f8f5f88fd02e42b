"""The main job, `zoo quickstart`: a short run by default, the full one as slow."""

import pytest

from zoo.quickstart import quickstart


def test_quickstart_runs_end_to_end_on_a_small_budget(tmp_path, capsys):
    summary = quickstart(base_dir=tmp_path / "saved_models", work_dir=tmp_path / "runs",
                         max_epochs=2, final_epochs=3)
    out = capsys.readouterr().out
    assert "test accuracy (reloaded export)" in out and "seconds: total" in out
    assert summary["export_path"] == str(tmp_path / "saved_models" / "lenet5" / "1")
    assert summary["parameters"] == 61_706
    assert summary["max_abs_diff"] <= 1e-5
    assert summary["test_examples"] == 359
    assert summary["test_accuracy_reloaded"] > 0.5


@pytest.mark.slow
def test_full_quickstart_meets_its_accuracy_target(tmp_path):
    summary = quickstart(base_dir=tmp_path / "saved_models", work_dir=tmp_path / "runs")
    assert summary["test_accuracy_reloaded"] >= 0.97
