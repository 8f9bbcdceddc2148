"""Every swappable part of `sweep`, registered by name (see `sweep.registry`).

Importing a module registers its components. A new component is one module in the right
subpackage and one entry per component in pyproject.toml's `sweep.components` entry points,
exactly as a third-party package declares its own: the registry imports a module only when
one of its names is asked for.
"""
