"""Benchmarks of the playground: raw trainer speed, the live page in a real browser,
and many sessions at once. Run ``python -m benchmarks`` from the project root; the
figures go to ``benchmarks/results/latest.json`` and ``latest.md``."""
