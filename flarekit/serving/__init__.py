"""Serving a trained run: forecasts from files and the forecast web page.

- `predict`: `flarekit predict --run RUN FILES...`, one CSV row per file with
  a status (ok / refused: reason / failed); sizes checked before decoding.
- `serve`: `flarekit serve --run RUN`, the forecast page and its JSON API,
  with bounded requests, host and origin checks.

Models load through `flarekit.experiments.load_run_model`, the one loader.
"""
