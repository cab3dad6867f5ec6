"""`python -m runner ...`: see runner/request.py for the options and DESIGN.md for the events."""

from runner import hub_env

hub_env.settle()  # before anything can import huggingface_hub / transformers

from runner.app import main  # noqa: E402

raise SystemExit(main())
