"""Checks: pure functions of facts -> Finding. Importing this package registers all of them, in
the order the README's table lists them."""

# Import order is report order.
from doctor.checks import platform  # noqa: F401, I001
from doctor.checks import gpu  # noqa: F401
from doctor.checks import torch_build  # noqa: F401
from doctor.checks import packages  # noqa: F401
from doctor.checks import memory  # noqa: F401
from doctor.checks import models  # noqa: F401
from doctor.checks import tools  # noqa: F401
from doctor.checks import docker  # noqa: F401
from doctor.checks.registry import CHECKS, Check

__all__ = ["CHECKS", "Check"]
