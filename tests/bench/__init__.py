"""Benchmarks: ``python -m tests.bench`` runs every tests/bench/bench_*.py module."""
