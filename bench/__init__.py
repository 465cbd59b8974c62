"""Benchmarks: not run by CI. See docs/performance.md."""
