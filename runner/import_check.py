"""Run INSIDE a newly built environment: does it import what the family needs?

`python -m runner.import_check --torch 2.11.0 --variant cu130 --module muq ... [--checkout DIR]` prints one JSON object {"ok": bool, "problems": [...], "torch": ...}
and exits 0 only when torch is the expected build, every module imports, and the checkout's model code
imports through the runner's own importer (runner.checkout_import). doctor/install/environment.py runs it
with only the runner on PYTHONPATH (doctor.launch.runner_path), so drdoctor's own packages cannot stand
in for one the new environment lacks; the doctor never imports it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def check(torch_version: str | None, variant: str | None, modules: list[str], checkout: str | None) -> dict:
    problems: list[str] = []
    found: dict[str, object] = {}
    if torch_version:
        try:
            torch = importlib.import_module("torch")
            build = torch.__version__.split("+")[0]
            cuda = getattr(torch.version, "cuda", None)
            found["torch"] = {"version": torch.__version__, "cuda": cuda}
            if build != torch_version:
                problems.append(f"torch is {torch.__version__}, the lock pins {torch_version}")
            if variant == "cpu" and cuda:
                problems.append(f"torch {torch.__version__} is a CUDA {cuda} build, the lock is the CPU one")
            elif variant and variant.startswith("cu"):
                wanted = f"{variant[2:-1]}.{variant[-1]}"
                if cuda != wanted:
                    problems.append(f"torch {torch.__version__} is built for CUDA {cuda}, the lock is {variant} ({wanted})")
        except Exception as exc:  # noqa: BLE001 - any import failure is the finding
            problems.append(f"torch does not import: {_first_line(exc)}")
    for name in modules:
        if name == "torch" and torch_version:
            continue  # checked above, with its build
        try:
            module = importlib.import_module(name)
            found[name] = getattr(module, "__version__", "imported")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{name} does not import: {_first_line(exc)}")
    if checkout:
        from runner.checkout_import import import_model_code
        from runner.errors import RunError

        warnings: list[str] = []
        try:
            cfm, dit = import_model_code(Path(checkout), warnings.append)
            found["checkout"] = f"{cfm.__module__}.{cfm.__name__}, {dit.__module__}.{dit.__name__}"
        except RunError as exc:
            problems.append(f"the checkout's model code does not import: {exc}")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"the checkout's model code does not import: {_first_line(exc)}")
            traceback.print_exc(file=sys.stderr)
        found["warnings"] = warnings
    return {"ok": not problems, "problems": problems, "found": found, "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m doctor.install.import_check")
    p.add_argument("--torch")
    p.add_argument("--variant")
    p.add_argument("--module", action="append", default=[])
    p.add_argument("--checkout")
    args = p.parse_args(argv)
    result = check(args.torch, args.variant, args.module, args.checkout)
    print(json.dumps(result))
    return 0 if result["ok"] else 3


if __name__ == "__main__":
    sys.exit(main())
