"""The hardened DiffRhythm generation process: `python -m runner`, events on stdout only."""
