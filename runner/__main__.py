"""`python -m runner ...`: see runner/request.py for the options and DESIGN.md for the events."""

import os

# before anything can import huggingface_hub / transformers
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from runner.app import main  # noqa: E402

raise SystemExit(main())
