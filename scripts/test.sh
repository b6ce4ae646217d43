#!/usr/bin/env bash
# Set up a virtual environment, install the project and test tools, and run the whole suite.
# Used by the README and by CI. Needs only the package registries (PyPI, Debian) for the install.
# Arguments go to pytest; -rs prints every skip's reason. Lanes (tests/README.md says what each covers):
#   bash scripts/test.sh                                   # everything, as CI runs it
#   bash scripts/test.sh -m "not server and not browser"   # the fast lane: no app subprocess, no browser
#   bash scripts/test.sh -m bf16                           # bf16 against fp32 (forced, emulated on AVX2)
#   NST_PRETEND_NATIVE_BF16=1 bash scripts/test.sh ...     # as on a CPU with native bf16 (auto picks bf16)
# Under CI=true a missing ../shared (weights, images) or chromium fails the tests that need it; elsewhere they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -r requirements-dev.txt
# Browser tests drive Debian's chromium (never `playwright install`, which downloads a browser).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || echo "chromium could not be installed; browser tests will skip (under CI=true they fail)"
  else
    echo "chromium is missing (apt-get install chromium); browser tests will skip (under CI=true they fail)"
  fi
fi
# The real weights from ../shared, where present, drive the integration tests.
if [ -f ../shared/weights/vgg16-caffe-features.pth ]; then
  export NST_WEIGHTS="$(cd ../shared/weights && pwd)/vgg16-caffe-features.pth"
fi
ruff check .
python -m pytest -q -rs "$@"
