"""One module per `drdoctor` sub-command; each exposes `main(argv) -> int`."""
