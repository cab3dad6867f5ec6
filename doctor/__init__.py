"""drdoctor: finds what stops DiffRhythm from making a real song, fixes it, and runs generation."""

__version__ = "0.1.0"
