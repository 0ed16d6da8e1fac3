"""SDOML TFDS builder (imported as package `sdoml`, datasets/ on sys.path)."""
