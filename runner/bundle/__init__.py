"""A tiny, self-contained stand-in for a DiffRhythm install, written as real files (self-test, tests).

`python -m runner.bundle build DIR` writes it; `runner.bundle.load.load_bundle` reads it back into
the same `Components` a real checkout gives.
"""
