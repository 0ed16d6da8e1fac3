"""Where examples come from and how they flow into tf.data.

Submodules are imported on demand: `flarekit.data.goes` and
`flarekit.data.splits` need only numpy, the pipeline needs TensorFlow.
"""
