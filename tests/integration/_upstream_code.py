"""Upstream's own functions, read from a DiffRhythm checkout where it lies (nothing of upstream is copied).

Its `infer/infer_utils.py` imports librosa, muq, mutagen, ... at the top; only the named functions are
compiled, with torch (and random) as their globals.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import torch


def upstream_functions(root: Path, names: tuple[str, ...]) -> dict:
    source = (root / "infer" / "infer_utils.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    wanted = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    assert {n.name for n in wanted} == set(names), "the checkout's infer_utils.py changed"
    namespace = {"torch": torch, "random": random}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(root / "infer" / "infer_utils.py"), "exec"), namespace)
    return namespace
