"""The run's stages (DESIGN.md): run state, preflight, one module per stage group, the resume table.

`runner.pipeline.run_stages` runs them in order; each stage takes what it needs and returns what it made.
"""
