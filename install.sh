#!/usr/bin/env bash
# Set up drdoctor in ./.venv (the torch build that fits this machine first, then drdoctor itself), then
# install DiffRhythm with `drdoctor install` (checkout, environment, weights, config) which ends with the
# checkup and the first-song command. Safe to run again: what is in place is kept and nothing is fetched twice.
#
#   ./install.sh [--python PATH] [--torch cpu|cu118|cu121|...] [--no-torch] [--dev] [--no-diffrhythm] [--yes]
set -euo pipefail

usage() {
    cat <<'EOF'
usage: ./install.sh [--python PATH] [--torch cpu|cuXYZ] [--no-torch] [--dev] [--no-diffrhythm] [--yes]

  --python PATH   the Python (>= 3.10) that creates .venv (default: python3)
  --torch VARIANT install this torch build instead of the one chosen for this machine's driver
  --no-torch      do not install torch (drdoctor's checkup works without it; generation does not)
  --dev           also install the test dependencies (then: .venv/bin/python -m pytest); DiffRhythm's
                  install is then only planned (drdoctor install --dry-run: what it would fetch and what
                  cannot be reached), so a CI run never downloads gigabytes; CI=true does the same
  --no-diffrhythm set up drdoctor only (no `drdoctor install`)
  --yes           answer yes to drdoctor install's questions (downloads over 1 GB, sudo)
EOF
}

PYTHON=python3
TORCH_VARIANT=""
WITH_TORCH=1
DEV=0
DIFFRHYTHM=1
YES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --python) [ $# -ge 2 ] || { echo "install.sh: --python needs a path" >&2; exit 2; }; PYTHON="$2"; shift 2 ;;
        --torch) [ $# -ge 2 ] || { echo "install.sh: --torch needs a variant (cpu, cu126, ...)" >&2; exit 2; }; TORCH_VARIANT="$2"; shift 2 ;;
        --no-torch) WITH_TORCH=0; shift ;;
        --dev) DEV=1; shift ;;
        --no-diffrhythm) DIFFRHYTHM=0; shift ;;
        --yes|-y) YES=(--yes); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")"
say() { printf '\n==> %s\n' "$*"; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install.sh: $PYTHON not found. Install Python >= 3.10 (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or pass --python PATH." >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "install.sh: $PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); drdoctor needs >= 3.10. Pass --python PATH." >&2
    exit 1
fi

VENV_PY=.venv/bin/python
if [ -x "$VENV_PY" ] && "$VENV_PY" -c 'import sys' >/dev/null 2>&1; then
    say "reusing .venv ($("$VENV_PY" --version 2>&1))"
else
    say "creating .venv with $PYTHON"
    if ! "$PYTHON" -m venv --clear .venv; then
        echo "install.sh: could not create .venv. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
        exit 1
    fi
fi

if [ "$WITH_TORCH" = 1 ]; then
    # The choice comes from doctor/data/torch_cuda.json, read by the standard-library-only doctor.wheels.
    choose_args=(choose)
    [ -n "$TORCH_VARIANT" ] && choose_args+=(--variant "$TORCH_VARIANT")
    read -r TORCH_VERSION VARIANT INDEX_URL < <("$PYTHON" -E -S -m doctor.wheels "${choose_args[@]}") \
        || { echo "install.sh: could not choose a torch build (see the message above)" >&2; exit 1; }
    if "$VENV_PY" -E -m doctor.wheels installed-matches "$TORCH_VERSION" "$VARIANT"; then
        say "torch $TORCH_VERSION+$VARIANT is already installed"
    else
        say "installing torch $TORCH_VERSION ($VARIANT build) for this machine"
        if "$PYTHON" -E -S -m doctor.wheels reachable "$INDEX_URL" --timeout 5; then
            "$VENV_PY" -m pip install "torch==$TORCH_VERSION+$VARIANT" --index-url "$INDEX_URL"
        else
            echo "    $INDEX_URL does not answer; falling back to the package sources pip is configured with."
            echo "    (Pinned to torch==$TORCH_VERSION: an unpinned torch could pull a different, multi-GB build.)"
            "$VENV_PY" -m pip install "torch==$TORCH_VERSION"
        fi
        if ! "$VENV_PY" -E -m doctor.wheels installed-matches "$TORCH_VERSION" "$VARIANT"; then
            echo "    note: the installed torch is not the $VARIANT build; run ./install.sh again when $INDEX_URL can be reached."
        fi
    fi
    EXTRAS="runner"
else
    say "skipping torch (--no-torch)"
    EXTRAS=""
fi
[ "$DEV" = 1 ] && EXTRAS="${EXTRAS:+$EXTRAS,}dev"

say "installing drdoctor (editable${EXTRAS:+, extras: $EXTRAS})"
"$VENV_PY" -m pip install -e ".${EXTRAS:+[$EXTRAS]}"

if [ "$DIFFRHYTHM" = 1 ] && { [ "$DEV" = 1 ] || [ "${CI:-}" = true ]; }; then
    say "DiffRhythm: planned, not applied (--dev or CI=true: no multi-GB downloads here)"
    .venv/bin/drdoctor install --dry-run || echo "    (the plan could not be made: see above)"
    echo
    echo "To install DiffRhythm for real: .venv/bin/drdoctor install"
    echo "Tests: .venv/bin/python -m pytest"
    exit 0
fi

if [ "$DIFFRHYTHM" = 1 ]; then
    say "installing DiffRhythm (drdoctor install: checkout, environment, weights, config, then the checkup)"
    set +e
    .venv/bin/drdoctor install "${YES[@]}"
    status=$?
    set -e
    echo
    case "$status" in
        0) ;;
        3) echo "drdoctor install could not reach everything it needs (above) and kept what it did; run ./install.sh or .venv/bin/drdoctor install again when it can." ;;
        *) echo "drdoctor install stopped (exit $status, above); what finished is kept. Run .venv/bin/drdoctor install again." ;;
    esac
    [ "$DEV" = 1 ] && echo "Tests: .venv/bin/python -m pytest"
    exit 0
fi

say "checkup (a failing check does not fail the install)"
set +e
.venv/bin/drdoctor check
status=$?
set -e

echo
if [ "$status" = 0 ]; then
    echo "All set. Next: .venv/bin/drdoctor (the interactive app) or .venv/bin/drdoctor generate --help"
else
    echo "The checkup found problems (above). Next: .venv/bin/drdoctor install (DiffRhythm itself), .venv/bin/drdoctor fix --dry-run,"
    echo "or pass your checkout: .venv/bin/drdoctor check --diffrhythm ~/DiffRhythm --python ~/DiffRhythm/.venv/bin/python"
fi
[ "$DEV" = 1 ] && echo "Tests: .venv/bin/python -m pytest"
exit 0
