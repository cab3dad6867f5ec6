"""Hugging Face Hub settings: whether the checkout's downloads are told to stay offline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runner import hub_env


@dataclass(frozen=True)
class HubFacts:
    env_offline: str | None  # HF_HUB_OFFLINE as set in the environment
    config_offline: bool | None  # drdoctor config [run] hf_hub_offline

    @property
    def offline(self) -> bool:
        """What a run launched now gets (runner.hub_env, the launchers' rule)."""
        env = {"HF_HUB_OFFLINE": self.env_offline} if self.env_offline is not None else {}
        return hub_env.offline(self.config_offline, env)

    @property
    def explicit(self) -> bool:
        """Offline because the user said so (not only by the runs' default)."""
        return self.env_offline is not None or self.config_offline is not None


def probe(env: Mapping[str, str], config_offline: object) -> HubFacts:
    return HubFacts(
        env_offline=env.get("HF_HUB_OFFLINE"),
        config_offline=config_offline if isinstance(config_offline, bool) else None,
    )
