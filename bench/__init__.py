"""Relance's benchmarks: `make bench` runs bench/run.py."""
