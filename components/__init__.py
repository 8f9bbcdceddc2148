"""Every swappable part of `sweep`, registered by name (see `sweep.registry`).

Importing a subpackage registers its components. A new component is one module in the right
subpackage (and one import line in its `__init__`), or a third-party package exposing an
entry point in the `sweep.components` group.
"""
