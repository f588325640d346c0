"""Benchmarks for glidelab: ``python -m benchmarks.run`` writes ``benchmarks/RESULTS.md``.

Not part of the installed package and not imported by the library; timings are never
asserted in the unit tests.
"""
