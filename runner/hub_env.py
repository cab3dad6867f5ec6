"""Whether a run may ask the Hugging Face Hub: the one rule for HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE).

A run needs no network: the weights are local (the resolver finds them) or the run stops and says which
`hf download` fetches them. So runs are offline unless the user says otherwise: HF_HUB_OFFLINE in the
launcher's environment wins, then drdoctor's config `[run] hf_hub_offline` (written by the `hf.offline` fix),
then offline. Every launcher (`drdoctor generate`, the TUI, selftest, the container) and the runner itself
ask `offline()`; nothing else sets the variables. Torch-free and stdlib-only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

TRUE_WORDS = ("1", "true", "yes", "on")
VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline(config_value: object = None, env: Mapping[str, str] | None = None, *, network: bool = True) -> bool:
    """`network=False`: the run has no network at all (a container with network_mode none): always offline."""
    env = os.environ if env is None else env
    if not network:
        return True
    given = env.get("HF_HUB_OFFLINE", "").strip()
    if given:
        return given.lower() in TRUE_WORDS
    if isinstance(config_value, bool):
        return config_value
    return True


def variables(config_value: object = None, env: Mapping[str, str] | None = None, *, network: bool = True) -> dict[str, str]:
    value = "1" if offline(config_value, env, network=network) else "0"
    return dict.fromkeys(VARIABLES, value)


def settle(environ: MutableMapping[str, str] | None = None) -> None:
    """In the runner, before huggingface_hub or transformers is imported: keep what the launcher decided,
    and be offline when started by hand without a word."""
    environ = os.environ if environ is None else environ
    environ.update(variables(None, environ))
