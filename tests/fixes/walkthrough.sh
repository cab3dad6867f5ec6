#!/usr/bin/env bash
# A broken WSL2 machine in a temporary folder, then: check, fix --dry-run, fix --yes, check again.
#   tests/fixes/walkthrough.sh [DIR]      (default: a new temporary folder; kept, so you can look)
# The machine (tests/fixes/broken_machine.py): a .wslconfig without memory=, a venv with transformers 4.57.0
# and a +cpu torch beside a working driver (recorded NVML snapshot: CUDA 12.6, sm_86), the weights in
# ~/.cache/huggingface/hub and /data/models while the checkout's ./pretrained holds a git-lfs pointer.
# pip installs come from a local wheel folder (DRDOCTOR_PIP_FIND_LINKS), so nothing leaves this machine.
set -u
repo="$(cd "$(dirname "$0")/../.." && pwd)"
py="$repo/.venv/bin/python"
base="${1:-$(mktemp -d /tmp/drdoctor-walkthrough-XXXXXX)}"
"$py" "$repo/tests/fixes/broken_machine.py" "$base" >/dev/null || exit 1

export DRDOCTOR_CONFIG="$base/config.toml"             # drdoctor's config file for this machine
export HF_HUB_CACHE=/home/alice/.cache/huggingface/hub # alice's cache, inside the fixture root
export DRDOCTOR_PIP_FIND_LINKS="$base/wheels"          # offline installs: --no-index --find-links
export PIP_CONFIG_FILE=/dev/null                       # this machine's own pip settings stay out of it
unset PIP_FIND_LINKS HF_HUB_OFFLINE
flags=(--root "$base/root" --python "$base/venv/bin/python" --diffrhythm /home/alice/DiffRhythm
       --nvml-snapshot "$base/nvml.json")

step() { printf '\n$ drdoctor %s\n' "$*" | sed "s|$base|\$T|g"; }
run() { step "$@"; "$repo/.venv/bin/drdoctor" "$@" 2>&1 | sed "s|$base|\$T|g"; echo "[exit ${PIPESTATUS[0]}]"; }

echo "T=$base"
run check "${flags[@]}"
run fix --dry-run "${flags[@]}" --models /data/models
run fix --yes "${flags[@]}" --models /data/models
run check "${flags[@]}"
run fix --yes "${flags[@]}"
run fix --yes "${flags[@]}" torch.reinstall transformers.pin wsl.memory hf.offline
