"""SHARP sequences TFDS builder (imported as package `sharp_sequences`, datasets/ on sys.path)."""
