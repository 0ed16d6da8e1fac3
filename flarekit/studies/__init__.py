"""Measured studies over runs and data: SRS table, generative study, label
efficiency, FID against sampling steps, benchmarks."""
