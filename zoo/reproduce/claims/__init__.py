"""The claims, one module each; every module here is imported by `zoo.reproduce.list_claims`.

A module's name is its claim id: the name of the `run` function it registers
with `@zoo.reproduce.register_claim`. Modules starting with "_" hold shared helpers.
"""
