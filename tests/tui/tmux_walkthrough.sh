#!/usr/bin/env bash
# Drive the real app (.venv/bin/drdoctor) in an 80x24 tmux terminal as a person would, and save what
# the screen shows at each step (tmux capture-pane) as text files.
#
#   tests/tui/tmux_walkthrough.sh [OUT_DIR]      (default: a new temporary folder; printed at the end)
#
# The app looks at the WSL2 fixture machine (a copy, so the wsl.memory fix can edit its .wslconfig),
# and generates with the tiny test bundle. Nothing outside the temporary folder is touched.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$(mktemp -d -t drdoctor-walkthrough-XXXX)}"
WORK="$(mktemp -d -t drdoctor-walk-XXXX)"
SESSION="drdoctor-walk-$$"
mkdir -p "$OUT"
cp -r "$REPO/tests/roots/wsl2" "$WORK/root"
cp "$REPO/tests/tui/data/song.lrc" "$WORK/song.lrc"
"$REPO/.venv/bin/python" -m runner.bundle build "$WORK/bundle" >/dev/null 2>&1

cleanup() { tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

step=0
shot() {  # shot NAME: save the visible screen
  step=$((step + 1))
  local file
  file="$OUT/$(printf '%02d' "$step")-$1.txt"
  tmux capture-pane -p -t "$SESSION" > "$file"
  echo "== $(basename "$file")"
  cat "$file"
}
screen() { tmux capture-pane -p -t "$SESSION"; }
wait_for() {  # wait_for REGEX [SECONDS]: until the screen shows it
  local deadline=$((SECONDS + ${2:-30}))
  until screen | grep -Eq -- "$1"; do
    if ((SECONDS > deadline)); then echo "timed out waiting for: $1" >&2; screen >&2; exit 1; fi
    sleep 0.2
  done
}
keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.4; }

tmux new-session -d -s "$SESSION" -x 80 -y 24 \
  "cd '$WORK' && DRDOCTOR_CONFIG='$WORK/config.toml' '$REPO/.venv/bin/drdoctor' tui --root root \
   --nvml-snapshot root/nvml.json --ram 32GB --bundle bundle --run-dir runs --out song.wav; sleep 30"

# 1. the checkup fills in; walk down to the .wslconfig finding
wait_for "fix the failures first|ready to generate"
shot checkup
for _ in $(seq 40); do
  screen | grep -q "mem.wsl_limit: " && break
  keys Down
done
shot checkup-finding

# 2. its fix: the plan with the diff, then apply it and see the re-check
keys f
wait_for "Apply \(y\)"
shot fix-dialog
keys y
wait_for "re-checked mem.wsl_limit"
sleep 0.5
shot fix-applied

# 3. generate: the form with the lyrics preview, then a run on the bundle
keys F3
wait_for "Lyrics"
tmux send-keys -t "$SESSION" -l "song.lrc"; sleep 0.3
keys Tab
tmux send-keys -t "$SESSION" -l "pop, piano"; sleep 0.3
shot generate-form
keys C-r
wait_for "done: |FAILED" 90
sleep 0.5
shot generate-done

# 4. a failing run: a length the bundle cannot make; the failing stage, message and remedy
keys C-e
keys Tab Tab Tab Tab Tab Tab Tab   # style, ref clip, embedding, from run, mode, batch, length
tmux send-keys -t "$SESSION" -l "50"; sleep 0.3
keys C-r
wait_for "FAILED in" 90
sleep 0.3
shot generate-failed

# 5. the runs history, help, the command palette
keys F4
wait_for "runs in"
shot runs
keys F1
wait_for "drdoctor help"
shot help
keys Escape
keys C-p
sleep 0.5
tmux send-keys -t "$SESSION" -l "check"; sleep 0.5
shot palette
keys Escape
keys C-q
echo "captures in $OUT"
