#!/usr/bin/env bash
# Build (idempotently) the separate virtualenv used by bench/mlflow_autolog.py.
#
# MLflow never goes into the project's .venv: it lives in
# ${MODELDB_CACHE:-$HOME/.cache/modeldb}/mlflow-venv, with scikit-learn, numpy
# and pandas pinned to the versions in requirements.lock so both benchmarks run
# the same library code. A stamp file records the pins; a second run with the
# same pins does nothing. The last line printed is the venv's python.
#
#     bench/mlflow_venv.sh                       # -> /root/.cache/modeldb/mlflow-venv/bin/python
#     "$(bench/mlflow_venv.sh | tail -n1)" bench/mlflow_autolog.py --repeats 5
set -euo pipefail

MLFLOW_PIN="mlflow==3.17.2"
SKLEARN_PIN="scikit-learn==1.9.1"
# numpy and pandas: the exact pins of requirements.lock, read at every run, so
# a change there changes the stamp and rebuilds this venv.
LOCK="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/requirements.lock"
lock_pin() {
    local pin
    pin="$(grep -iE "^$1==" "$LOCK" | head -n1 | sed 's/[[:space:]]*[;#\\].*//')" || true
    [[ -n "$pin" ]] || { echo "no exact pin for $1 in $LOCK" >&2; exit 1; }
    echo "$pin"
}
NUMPY_PIN="$(lock_pin numpy)"
PANDAS_PIN="$(lock_pin pandas)"

PINS=("$MLFLOW_PIN" "$SKLEARN_PIN" "$NUMPY_PIN" "$PANDAS_PIN")

CACHE="${MODELDB_CACHE:-$HOME/.cache/modeldb}"
VENV="$CACHE/mlflow-venv"
PY="$VENV/bin/python"
STAMP="$VENV/.modeldb-stamp"
WANT="$(printf '%s\n' "${PINS[@]}")"

if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "$PY"
    exit 0
fi

mkdir -p "$CACHE"
if [[ ! -x "$PY" ]]; then
    echo "creating $VENV" >&2
    python3.11 -m venv "$VENV"
fi
rm -f "$STAMP"
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$PY" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
"$PY" - "${PINS[@]}" <<'EOF' >&2
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    got = version(name)
    if got != want:
        sys.exit(f"{name}: installed {got}, pinned {want}")
import mlflow.sklearn, sklearn  # noqa: F401  (fails loudly if the install is broken)
print("mlflow venv ok:", ", ".join(sys.argv[1:]))
EOF
printf '%s\n' "$WANT" > "$STAMP"
echo "$PY"
