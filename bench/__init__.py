"""Benchmarks run by ``make bench``: each module exposes ``main() -> dict``."""
