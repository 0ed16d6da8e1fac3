"""SDO-Benchmark TFDS builder (imported as package `sdo_benchmark`, datasets/ on sys.path)."""
