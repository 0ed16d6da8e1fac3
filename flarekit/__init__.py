"""flarekit: deep learning on images of the Sun, in Keras 3 and TensorFlow.

Subpackages: `data` (synthetic Sun, real-data readers, splits, tasks, tf.data
pipeline), `layers`, `models`, `training`, `diffusion`, `metrics`; modules
`experiment` (config, run folders, fit / evaluate), `report`, `interpret`, `cli`.
"""

__version__ = "0.1.0"
