"""Benchmarks: the engine against an in-repo textbook reference loop (python -m bench)."""
