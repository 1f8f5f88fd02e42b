"""Word vectors from a text corpus: word pairs in, a vector per word out."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class WordVectors(Task):
    name = "embedding"
    loss = None
    metrics = ()
    output_name = "embedding"


register_task(WordVectors())
