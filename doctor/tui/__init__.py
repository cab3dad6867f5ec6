"""The interactive app: a face on the same engines as `drdoctor check`, `fix` and `generate`.

Importing this package does not import textual; `doctor.tui.app` does.
"""
