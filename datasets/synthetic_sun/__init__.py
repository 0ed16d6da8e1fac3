"""The synthetic Sun TFDS dataset (import with `datasets/` on sys.path)."""
