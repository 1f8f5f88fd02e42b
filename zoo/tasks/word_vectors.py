"""Word vectors from a text corpus: word pairs in, a vector per word out."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class WordVectors(Task):
    name = "embedding"
    loss = None
    metrics = ()
    output_name = "embedding"

    def run_files(self, spec, plan, run) -> None:
        """The vocabulary travels with the vectors (`zoo vectors`, exports)."""
        run.write_vocabulary(plan.info.class_names)


register_task(WordVectors())
