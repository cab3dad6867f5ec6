"""Hugging Face Hub settings: whether the checkout's downloads are told to stay offline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TRUE_WORDS = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HubFacts:
    env_offline: str | None  # HF_HUB_OFFLINE as set in the environment
    config_offline: bool | None  # drdoctor config [run] hf_hub_offline

    @property
    def offline(self) -> bool:
        if self.env_offline is not None:
            return self.env_offline.strip().lower() in TRUE_WORDS
        return bool(self.config_offline)


def probe(env: Mapping[str, str], config_offline: object) -> HubFacts:
    return HubFacts(
        env_offline=env.get("HF_HUB_OFFLINE"),
        config_offline=config_offline if isinstance(config_offline, bool) else None,
    )
