"""Word-vector benchmark: PPMI + SVD against skip-gram (and CBOW) on tiny Shakespeare.

All models learn 100-dimensional vectors of the same word-level corpus
(`level="word_lower"`: lowercased, punctuation split off; vocabulary from
the training split, its `--max-tokens` most frequent words, the rest [UNK]:
about the words seen 5 times or more, word2vec's min_count) through
`zoo.train`, with a window of 5. `ppmi_svd`
counts and factorizes once; `word2vec_skipgram` and `word2vec_cbow` train
with 5 negatives and subsampling t = 1e-3 for `--epochs` epochs. Reported:
training seconds, the validation loss on each model's own examples
(`ppmi_svd` and skip-gram share theirs: the same sigmoid cross-entropy on
the same skip-gram examples; `ppmi_svd` scores with its -log k shift),
nearest neighbours of a few frequent words, and man : king :: woman : ?.

Prints JSON, then a table. Default budget (10 epochs of skip-gram and of
CBOW at batch 1024, Adam at 0.01): about 2.5 minutes on 2 CPU cores.

    python benchmarks/word_vectors.py [--epochs 10] [--max-tokens 4000] [--models ppmi_svd word2vec_skipgram word2vec_cbow]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import zoo  # noqa: E402
from zoo.runtime.artifacts import word_vectors_from_run  # noqa: E402
from zoo.tasks.word_vectors import UnknownWordError  # noqa: E402

SHAKESPEARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                           "shared", "data", "tiny_shakespeare")
QUERIES = ("king", "love", "man", "good", "death")
ANALOGY = ("man", "king", "woman")


def run(name, epochs, batch_size, learning_rate, max_tokens, seed, work, k):
    start = time.perf_counter()
    result = zoo.train(
        name, "tiny_shakespeare", epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, seed=seed, overrides={"dim": 100},
        data_options={"window": 5, "max_tokens": max_tokens, "manual_dir": SHAKESPEARE,
                      "offline": True},
        run_dir=os.path.join(work, name), verbose=0,
    )
    seconds = time.perf_counter() - start
    vectors = word_vectors_from_run(result.run_dir)
    neighbours = {w: [(n, round(c, 3)) for n, c in vectors.most_similar(w, k)] for w in QUERIES}
    try:
        analogy = [(n, round(c, 3)) for n, c in vectors.analogy(*ANALOGY, k)]
    except UnknownWordError as e:
        analogy = str(e)
    return {
        "model": name,
        "epochs": None if zoo.get_spec(name).fit else epochs,
        "seconds": round(seconds, 1),
        "val_loss": round(result.history[-1]["val_loss"], 4),
        "vocabulary": len(vectors.vocabulary),
        "neighbours": neighbours,
        "analogy": {"query": "{} : {} :: {} : ?".format(*ANALOGY), "answers": analogy},
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["ppmi_svd", "word2vec_skipgram", "word2vec_cbow"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=4000, help="vocabulary size, [UNK] included")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate of word2vec")
    parser.add_argument("--k", type=int, default=5, help="neighbours listed per word")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        results = [run(m, args.epochs, args.batch_size, args.lr, args.max_tokens, args.seed,
                       work, args.k)
                   for m in args.models]
    report = {"corpus": "tiny_shakespeare (TFDS train split), word_lower, window 5, dim 100",
              "budget": {"epochs": args.epochs, "batch_size": args.batch_size,
                         "max_tokens": args.max_tokens,
                         "adam_learning_rate": args.lr, "negatives": 5, "subsample": 1e-3},
              "results": results}
    print(json.dumps(report, indent=2))
    print()
    print(f"{'model':<18} {'seconds':>8} {'val_loss':>9}  vocabulary")
    for r in results:
        print(f"{r['model']:<18} {r['seconds']:>8} {r['val_loss']:>9}  {r['vocabulary']}")
    for word in QUERIES:
        print(f"\n{word}:")
        for r in results:
            print(f"  {r['model']:<18} " + ", ".join(n for n, _ in r["neighbours"][word]))
    print(f"\n{results[0]['analogy']['query']}")
    for r in results:
        answers = r["analogy"]["answers"]
        print(f"  {r['model']:<18} " + (", ".join(n for n, _ in answers)
                                       if isinstance(answers, list) else answers))
    return report


if __name__ == "__main__":
    main()
