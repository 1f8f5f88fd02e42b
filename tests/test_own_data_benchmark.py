"""`benchmarks/own_data.py` at a tiny size: it runs and reports every figure."""

import importlib.util
import json
from pathlib import Path

import pipelines  # noqa: F401  (TensorFlow imported with the module, as the suite does)

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("own_data_benchmark",
                                                  ROOT / "benchmarks" / "own_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_own_data_benchmark_reports_ratios_and_peak_rss(tmp_path, capsys):
    bench = _benchmark()
    figures = bench.main(["--rows", "2000", "--images", "50", "--repeats", "1", "--no-rss",
                          "--workdir", str(tmp_path)])
    for key in ("csv_ratio", "images_ratio", "images_nocache_ratio", "images_epoch2_ratio",
                "csv_cpu_ratio", "csv_per_line_ratio", "zoo_images_epoch2_per_s",
                "stats_rows_per_s", "zoo_csv_rows_per_s", "hand_csv_rows_per_s",
                "zoo_images_per_s", "hand_images_per_s", "hand_images_cached_per_s",
                "hand_images_epoch2_per_s"):
        assert figures[key] > 0, key
    assert figures["train_rows"] == 1800 and figures["hand_csv_rows"] == 2000
    assert figures["train_images"] == 45
    assert "CSV rows, one epoch" in capsys.readouterr().out
    # What a peak-RSS child process runs and prints (here in this process: importing
    # TensorFlow again in a fresh one would take most of this test's time).
    for which, path, examples in (("zoo_csv", tmp_path / "table_2000.csv", 1800),
                                  ("hand_images", tmp_path / "images_50", 45)):
        bench.child(which, str(path))
        peak = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert peak["examples"] == examples and peak["peak_mib"] >= peak["imports_mib"] > 0
