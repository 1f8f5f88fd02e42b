"""The runtime: run folders, fitting, distribution, export, prediction and generation.

It calls each model's task (`zoo.tasks`) for what differs between tasks and never
branches on a model, family or task name.
"""
