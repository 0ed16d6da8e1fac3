"""flarekit: deep learning on images of the Sun, in Keras 3 and TensorFlow.

The ground floor (knows nothing of what sits above it):

- `data`: the synthetic Sun, real-archive readers (FITS/JP2, GOES, event
  lists, one module per archive), splits, tasks, the tf.data pipeline;
- `layers`, `models`, `training`, `diffusion`, `metrics`: layers inside
  models, network builders, algorithms as keras.Model subclasses, samplers
  and schedules (pure math), forecast and generative scores.

On top of them:

- `experiments`: the runner every trainer shares, and the trainers;
- `studies`: measured studies over runs and data;
- `interpret`: saliency, attention, embeddings, figures for looking at data;
- `predict`, `serve`: forecasts from files and the forecast page;
- `report`, `compare`: a run's report, leaderboards across runs;
- `io`: atomic writers; `cli`: the `flarekit` command.
"""

__version__ = "0.1.0"
