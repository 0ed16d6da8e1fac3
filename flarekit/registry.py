"""Registries of classes by name, as the task and sampler registries keep them.

A registry is a plain dict from a class attribute `name` to the class. Both
flarekit registries (`flarekit.data.tasks.TASKS` and the samplers of
`flarekit.diffusion`) follow one rule: defining the same class again (a
re-imported module, a re-run notebook cell) replaces the earlier definition;
a different class that claims a name already taken is an error. This module
imports nothing of flarekit, so any layer may use it.
"""

from __future__ import annotations


def register_named_class(registry: dict, cls, base: type, kind: str):
    """Put `cls` into `registry` under `cls.name`, and return `cls`.

    Args:
        registry: the dict of name -> class to add to.
        cls: the class to register.
        base: the class every registered class must derive from.
        kind: what the registry holds, for messages ("Task", "Sampler").

    Returns:
        `cls`, so that the caller can be used as a class decorator.

    Raises:
        TypeError: `cls` is not a subclass of `base`.
        ValueError: `cls` has no `name`, or its name is taken by another class.

    Example:
        >>> register_named_class(_SAMPLERS, EulerSampler, Sampler, "Sampler")
    """
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"register needs a {base.__name__} subclass, got {cls!r}.")
    if not isinstance(cls.name, str) or not cls.name:
        raise ValueError(
            f"{kind} class {cls.__qualname__} has no `name`; set the class "
            "attribute name = '...' (the name it is asked for by)."
        )
    taken = registry.get(cls.name)
    if taken is not None and taken.__qualname__ != cls.__qualname__:
        raise ValueError(
            f"{kind} name {cls.name!r} is taken by {taken.__module__}."
            f"{taken.__qualname__}; {cls.__module__}.{cls.__qualname__} needs "
            "another `name`."
        )
    registry[cls.name] = cls
    return cls
