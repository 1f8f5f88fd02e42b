"""Own data at scale: the zoo's CSV and image-folder pipelines against hand-written tf.data.

Generates, in `--workdir` (a temporary folder by default), a CSV of `--rows` rows x 20
columns (17 floats, 2 string columns of 10 values, an integer class `y` of 3 classes),
written in chunks, and a folder of `--images` 32x32 RGB PNGs in 10 class folders. Then,
in one process, alternating (zoo, hand-written, hand-written, zoo, ...) for `--repeats`
rounds, one epoch of each:

    CSV, zoo           `pipelines.get_info(csv, target="y")` (the one streamed statistics
                       pass, timed on its own, its cache cleared each round), then
                       `pipelines.load(csv, "train", batch_size=256, target="y")`.
    CSV, hand-written  `TextLineDataset(csv).skip(1)`, shuffle 10,000 lines, batch 256,
                       `decode_csv` and the zoo's own FeatureSpace (`pipelines.preprocessor`)
                       in one parallel map, prefetch. It reads every row (the zoo reads
                       them all too but delivers the 90% it trains on): rows/s compare.
    images, zoo        `pipelines.load(folder, "train", batch_size=256)` (decoded images
                       cached in memory below 256 MiB, as by default: its first epoch,
                       and its second, from the cache), and with cache=False.
    images, by hand    the same training files: `read_file` + `decode_png` in a parallel
                       map, then (as the tf.data guide has it for data that fits in
                       memory) cache and shuffle 10,000, batch 256, cast and scale to
                       [0, 1] in a parallel map, prefetch: compared with the zoo's cached
                       epochs. Without the cache, the file names are shuffled before the
                       map: compared with the zoo's cache=False.

Rows/s and images/s count the examples each epoch delivers; the figures are the medians
of the per-round ratios zoo / hand-written, of examples per wall second and per CPU
second of the process (less sensitive to other load on the machine). Peak RSS (VmHWM)
is measured for each pipeline in a fresh subprocess at each size of `--rss-rows` and
`--rss-images`, beside the peak after the imports alone, to show whether it grows with
the file.

    python benchmarks/own_data.py [--rows 1000000] [--images 20000] [--repeats 5]
                                  [--rss-rows 100000 1000000] [--rss-images 2000 20000]
                                  [--workdir DIR] [--json out.json]

Prints a table and the figures as JSON. Absolute times depend on the machine and its
load; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's packages

import numpy as np  # noqa: E402

BATCH = 256
FLOATS, STRINGS, CLASSES, VALUES = 17, 2, 3, 10
WRITE_CHUNK = 100_000
SHUFFLE = 10_000


# --- data ---

def write_csv(path: Path, rows: int, seed: int = 0) -> Path:
    """`rows` x 20 columns, written `WRITE_CHUNK` rows at a time (never whole in memory)."""
    import pandas as pd

    if path.is_file():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".part")
    for start in range(0, rows, WRITE_CHUNK):
        n = min(WRITE_CHUNK, rows - start)
        y = rng.integers(0, CLASSES, n)
        # Rounded values: short fields, written by pandas' fast path (no float_format).
        frame = {f"f{i}": np.round(rng.normal(y * (i % 3), 1.0 + i / 10, n), 4)
                 for i in range(FLOATS)}
        for j in range(STRINGS):
            frame[f"c{j}"] = np.char.add(f"v{j}_", rng.integers(0, VALUES, n).astype(str))
        frame["y"] = y
        pd.DataFrame(frame).to_csv(tmp, mode="a", header=start == 0, index=False)
    tmp.rename(path)
    return path


def write_images(folder: Path, count: int, seed: int = 0) -> Path:
    """`count` 32x32 RGB PNGs in 10 class folders."""
    from PIL import Image

    done = folder / ".done"
    if done.is_file():
        return folder
    rng = np.random.default_rng(seed)
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        c = i % 10
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        pixels[:, :, c % 3] //= 2  # a little class signal
        Image.fromarray(pixels).save(folder / f"class{c}" / f"{i:06d}.png")
    done.touch()
    return folder


# --- the pipelines ---

def zoo_stats(csv: Path):
    import pipelines
    from pipelines import tables

    tables._stats.cache_clear()
    return pipelines.get_info(str(csv), target="y")


def zoo_csv(csv: Path):
    import pipelines

    return pipelines.load(str(csv), "train", batch_size=BATCH, target="y")


def hand_csv(csv: Path):
    """The hand-written CSV pipeline, as the tf.data guide has it: lines shuffled, batched,
    then parsed and encoded (the zoo's own FeatureSpace) in one vectorized parallel map.
    It reads every row: the zoo's held-out validation rows are not filtered out."""
    import tensorflow as tf

    import pipelines

    space = pipelines.preprocessor(str(csv), target="y")
    header = Path(csv).open().readline().strip().split(",")
    defaults = [tf.constant([], tf.string) if c.startswith("c") else
                tf.constant([], tf.float64 if c == "y" else tf.float32) for c in header]

    def parse(lines):
        fields = tf.io.decode_csv(lines, defaults)
        x = {c: f for c, f in zip(header, fields) if c != "y"}
        return space(x), tf.cast(fields[-1], tf.int32)

    return (tf.data.TextLineDataset(str(csv)).skip(1).shuffle(SHUFFLE, seed=0).batch(BATCH)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def zoo_images(folder: Path, cache: bool = True):
    import pipelines

    return pipelines.load(str(folder), "train", batch_size=BATCH, cache=cache)


def hand_images(folder: Path, cache: bool = False):
    """The hand-written image pipeline. Without a cache: file names shuffled, then read,
    decoded and scaled in a parallel map. With one, as the tf.data guide has it for data
    that fits in memory: decoded in a parallel map, cached, then shuffled."""
    import tensorflow as tf

    from pipelines.folders import ImageFolderSource

    files, labels = ImageFolderSource().files(str(folder), "train", {})

    def decode(path, label):
        return tf.io.decode_png(tf.io.read_file(path), channels=3), label

    def scale(images, label):
        return tf.cast(images, tf.float32) / 255.0, label

    ds = tf.data.Dataset.from_tensor_slices((files, labels))
    if cache:
        ds = (ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE).cache()
              .shuffle(min(len(files), 10_000), seed=0))
    else:
        ds = ds.shuffle(len(files), seed=0).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return (ds.batch(BATCH).map(scale, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def epoch(ds) -> tuple[int, float, float]:
    """(examples, wall seconds, CPU seconds of this process) of one pass."""
    start, cpu, n = time.perf_counter(), time.process_time(), 0
    for _, y in ds:
        n += int(y.shape[0])
    return n, time.perf_counter() - start, time.process_time() - cpu


def timed(make, *args) -> dict:
    start = time.perf_counter()
    ds = make(*args)
    built = time.perf_counter() - start
    n, seconds, cpu = epoch(ds)
    return {"examples": n, "seconds": seconds, "cpu_seconds": cpu, "build_seconds": built,
            "per_s": n / seconds, "per_cpu_s": n / cpu}


# --- peak RSS, in a fresh process ---

def _vm(field: str) -> int:
    """A /proc/self/status field in MiB (VmHWM: the peak resident set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    return -1


def child(which: str, path: str) -> None:
    import tensorflow as tf  # noqa: F401  (imports counted in the baseline peak)

    import pipelines  # noqa: F401

    # The imports' own peak, and a first tiny dataset (tf.data's thread pools).
    list(tf.data.Dataset.range(10).batch(5).map(lambda x: x * 2))
    imports = _vm("VmHWM")
    path = Path(path)
    if which == "zoo_csv":
        zoo_stats(path)
        out = timed(zoo_csv, path)
    elif which == "hand_csv":
        out = timed(hand_csv, path)
    elif which == "zoo_images":
        out = timed(zoo_images, path)
    elif which == "zoo_images_nocache":
        out = timed(zoo_images, path, False)
    else:
        out = timed(hand_images, path)
    print(json.dumps({"imports_mib": imports, "peak_mib": _vm("VmHWM"),
                      "examples": out["examples"]}))


def peak_rss(which: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, __file__, "--child", which, str(path)],
                         capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{which} on {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the measurement ---

def measure(args, work: Path) -> dict:
    if args.no_rss:
        args.rss_rows, args.rss_images = [], []
    sizes_rows = sorted({args.rows, *args.rss_rows})
    sizes_images = sorted({args.images, *args.rss_images})
    t0 = time.perf_counter()
    csvs = {n: write_csv(work / f"table_{n}.csv", n) for n in sizes_rows}
    folders = {n: write_images(work / f"images_{n}", n) for n in sizes_images}
    print(f"data written in {time.perf_counter() - t0:.1f} s", flush=True)
    csv, folder = csvs[args.rows], folders[args.images]

    runs: dict[str, list[dict]] = {k: [] for k in ("stats", "zoo_csv", "hand_csv", "zoo_images",
                                                   "zoo_images_epoch2", "zoo_images_nocache",
                                                   "hand_images", "hand_images_cached",
                                                   "hand_images_epoch2")}
    ratios: dict[str, list[float]] = {k + s: [] for k in ("csv", "images", "images_epoch2",
                                                                 "images_nocache")
                                      for s in ("", "_cpu")}
    for round_ in range(args.repeats):
        start = time.perf_counter()
        info = zoo_stats(csv)
        seconds = time.perf_counter() - start
        runs["stats"].append({"examples": args.rows, "seconds": seconds,
                              "per_s": args.rows / seconds})
        # Alternate which goes first, so a drift in load falls on both.
        order = ["zoo", "hand"] if round_ % 2 == 0 else ["hand", "zoo"]
        for who in order:
            runs[f"{who}_csv"].append(timed(zoo_csv if who == "zoo" else hand_csv, csv))
        for who in order:
            if who == "zoo":
                ds = zoo_images(folder)
                runs["zoo_images"].append(timed(lambda: ds))
                runs["zoo_images_epoch2"].append(timed(lambda: ds))  # from the cache
                runs["zoo_images_nocache"].append(timed(zoo_images, folder, False))
            else:
                ds = hand_images(folder, cache=True)
                runs["hand_images_cached"].append(timed(lambda: ds))
                runs["hand_images_epoch2"].append(timed(lambda: ds))
                runs["hand_images"].append(timed(hand_images, folder))
        for name, zoo, hand in (("csv", "zoo_csv", "hand_csv"),
                                ("images", "zoo_images", "hand_images_cached"),
                                ("images_epoch2", "zoo_images_epoch2", "hand_images_epoch2"),
                                ("images_nocache", "zoo_images_nocache", "hand_images")):
            for unit, suffix in (("per_s", ""), ("per_cpu_s", "_cpu")):
                ratios[name + suffix].append(runs[zoo][-1][unit] / runs[hand][-1][unit])
        print(f"round {round_ + 1}: stats {runs['stats'][-1]['per_s']:,.0f} rows/s; csv zoo "
              f"{runs['zoo_csv'][-1]['per_s']:,.0f} / hand {runs['hand_csv'][-1]['per_s']:,.0f}"
              f" rows/s; images zoo {runs['zoo_images'][-1]['per_s']:,.0f} (no cache "
              f"{runs['zoo_images_nocache'][-1]['per_s']:,.0f}, second epoch "
              f"{runs['zoo_images_epoch2'][-1]['per_s']:,.0f}) / hand "
              f"{runs['hand_images'][-1]['per_s']:,.0f} images/s", flush=True)

    rss = {"csv": {}, "images": {}}
    if not args.no_rss:
        for n in args.rss_rows:
            rss["csv"][n] = {w: peak_rss(w, csvs[n]) for w in ("zoo_csv", "hand_csv")}
            print(f"peak RSS, {n} rows: {rss['csv'][n]}", flush=True)
        for n in args.rss_images:
            rss["images"][n] = {w: peak_rss(w, folders[n]) for w in
                                ("zoo_images", "zoo_images_nocache", "hand_images")}
            print(f"peak RSS, {n} images: {rss['images'][n]}", flush=True)

    def median(key, field="per_s"):
        return round(statistics.median(r[field] for r in runs[key]), 1)

    return {
        "rows": args.rows, "columns": FLOATS + STRINGS + 1, "images": args.images,
        "batch_size": BATCH, "repeats": args.repeats,
        "csv_mib": round(csv.stat().st_size / 2**20, 1),
        "train_rows": info.splits["train"], "train_images": runs["zoo_images"][0]["examples"],
        "hand_csv_rows": runs["hand_csv"][0]["examples"],
        "stats_rows_per_s": median("stats"), "stats_seconds": median("stats", "seconds"),
        "zoo_csv_rows_per_s": median("zoo_csv"), "hand_csv_rows_per_s": median("hand_csv"),
        "zoo_images_per_s": median("zoo_images"),
        "zoo_images_epoch2_per_s": median("zoo_images_epoch2"),
        "zoo_images_nocache_per_s": median("zoo_images_nocache"),
        "hand_images_per_s": median("hand_images"),
        "hand_images_cached_per_s": median("hand_images_cached"),
        "hand_images_epoch2_per_s": median("hand_images_epoch2"),
        "round_ratios": {k: [round(r, 3) for r in v] for k, v in ratios.items()},
        # The figures: medians of the per-round ratios zoo / hand-written, of examples per
        # wall second and (beside them, less sensitive to other load) per CPU second.
        **{f"{k}_ratio": round(statistics.median(v), 3) for k, v in ratios.items()},
        # The zoo reads every line but delivers the training rows: its rate per line read.
        "csv_per_line_ratio": round(statistics.median(ratios["csv"]) * args.rows
                                    / info.splits["train"], 3),
        "peak_rss_mib": {kind: {str(n): v for n, v in by.items()} for kind, by in rss.items()},
        "runs": {k: [{f: round(x, 3) if isinstance(x, float) else x for f, x in r.items()}
                     for r in v] for k, v in runs.items()},
    }


def table(figures: dict) -> str:
    f = figures
    lines = [
        f"{f['rows']:,} rows x {f['columns']} columns ({f['csv_mib']} MiB CSV), "
        f"{f['images']:,} PNGs 32x32, batch {f['batch_size']}, medians of {f['repeats']}:",
        f"  {'':<34}{'zoo /s':>12}{'hand /s':>12}{'ratio':>8}{'CPU ratio':>11}",
        f"  {'CSV rows, one epoch':<34}{f['zoo_csv_rows_per_s']:>12,.0f}"
        f"{f['hand_csv_rows_per_s']:>12,.0f}{f['csv_ratio']:>8.2f}{f['csv_cpu_ratio']:>11.2f}",
        f"  {'images, first epoch (cached)':<34}{f['zoo_images_per_s']:>12,.0f}"
        f"{f['hand_images_cached_per_s']:>12,.0f}{f['images_ratio']:>8.2f}"
        f"{f['images_cpu_ratio']:>11.2f}",
        f"  {'images, second epoch (cached)':<34}{f['zoo_images_epoch2_per_s']:>12,.0f}"
        f"{f['hand_images_epoch2_per_s']:>12,.0f}{f['images_epoch2_ratio']:>8.2f}"
        f"{f['images_epoch2_cpu_ratio']:>11.2f}",
        f"  {'images, one epoch (cache=False)':<34}{f['zoo_images_nocache_per_s']:>12,.0f}"
        f"{f['hand_images_per_s']:>12,.0f}{f['images_nocache_ratio']:>8.2f}"
        f"{f['images_nocache_cpu_ratio']:>11.2f}",
        f"  CSV per line read (the zoo reads its validation rows too): ratio "
        f"{f['csv_per_line_ratio']:.2f}",
        f"  statistics pass: {f['stats_seconds']:.1f} s, {f['stats_rows_per_s']:,.0f} rows/s",
    ]
    for kind, by in f["peak_rss_mib"].items():
        for n, pipes in by.items():
            cells = ", ".join(f"{w} {v['peak_mib']} MiB (+{v['peak_mib'] - v['imports_mib']})"
                              for w, v in pipes.items())
            lines.append(f"  peak RSS, {kind} {int(n):,}: {cells}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rss-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--rss-images", type=int, nargs="*", default=[2_000, 20_000])
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--workdir", help="where the data goes (kept; reused when present)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return {}
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        figures = measure(args, Path(args.workdir))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures = measure(args, Path(tmp))
    print()
    print(table(figures))
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
