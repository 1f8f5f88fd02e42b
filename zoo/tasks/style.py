"""Neural style transfer: optimise an image (Gatys) or train a feed-forward network (Johnson)."""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class StyleTransfer(Task):
    name = "style_transfer"
    loss = None
    metrics = ()
    output_name = "style"


register_task(StyleTransfer())


class Stylization(Task):
    name = "stylization"
    loss = None
    metrics = ()
    output_name = "stylized"


register_task(Stylization())
