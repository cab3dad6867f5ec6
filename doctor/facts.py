"""Everything the probes found, one field per area; None while an area's probe has not finished."""

from __future__ import annotations

from dataclasses import dataclass, field

from doctor.probes.diffrhythm import CheckoutFacts
from doctor.probes.docker import DockerFacts
from doctor.probes.gpu import GpuFacts
from doctor.probes.hub import HubFacts
from doctor.probes.integrity import BlobCheck
from doctor.probes.memory import MemoryFacts
from doctor.probes.models import ModelsFacts
from doctor.probes.platform import PlatformFacts
from doctor.probes.python_env import PythonFacts
from doctor.probes.tools import EspeakFacts


@dataclass
class Facts:
    platform: PlatformFacts | None = None
    gpu: GpuFacts | None = None
    python: PythonFacts | None = None
    memory: MemoryFacts | None = None
    checkout: CheckoutFacts | None = None
    models: ModelsFacts | None = None
    integrity: tuple[BlobCheck, ...] | None = None  # only with --deep
    espeak: EspeakFacts | None = None
    hub: HubFacts | None = None
    docker: DockerFacts | None = None
    errors: dict[str, str] = field(default_factory=dict)  # area -> why its probe could not finish
