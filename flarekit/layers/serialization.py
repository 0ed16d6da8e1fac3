"""`get_config` from constructor arguments, for flarekit's Keras objects.

keras-hub's contract, which flarekit follows, keeps one attribute per
constructor argument under the argument's own name. A layer's `get_config`
is then nothing but a list of those names; `ConfigFromAttributes` writes
that method once, and a layer, model, loss or optimizer only names its
arguments in `config_attributes`.

Example:
    >>> @keras.saving.register_keras_serializable(package="flarekit")
    ... class Gain(ConfigFromAttributes, keras.layers.Layer):
    ...     config_attributes = ("factor",)
    ...     def __init__(self, factor: float = 1.0, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.factor = float(factor)
"""

from __future__ import annotations


class ConfigFromAttributes:
    """Mixin: `get_config` = the parent's config + the attributes named in
    `config_attributes` (each the value of the constructor argument of the
    same name, as the object holds it).

    Put it before the Keras base class (`class L(ConfigFromAttributes,
    keras.layers.Layer)`), so that its `get_config` chains to the base's.
    A subclass that adds constructor arguments extends the tuple:
    `config_attributes = (*Parent.config_attributes, "extra")`.
    """

    # Constructor arguments, each stored as an attribute of the same name.
    config_attributes: tuple = ()

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self.config_attributes})
        return config
