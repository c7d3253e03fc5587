#!/usr/bin/env bash
# Sets up a fresh Debian machine for unimedvl-plugin: npm packages (with Node 22 from npm) and, with
# --test-deps, the Debian packages the test suite needs. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_deps=false
for arg in "$@"; do
  case "$arg" in
    --test-deps) want_test_deps=true ;;
    *) echo "usage: scripts/setup.sh [--test-deps]" >&2; exit 2 ;;
  esac
done

# Debian packages: PACS (Orthanc + DICOMweb plugin, never the GDCM plugin), DICOM validators and codecs,
# Debian's python with pydicom/torch/onnx for fixtures and the model exporter, and Debian's chromium for
# the operator console's browser tests (playwright-core drives /usr/bin/chromium; it never downloads browsers).
debian_packages=(orthanc orthanc-dicomweb dicom3tools dcmtk python3-pydicom python3-numpy python3-pil python3-torch python3-onnx chromium)
if $want_test_deps; then
  missing=()
  for pkg in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} > 0)); then
    echo "setup: installing Debian packages the tests need: ${missing[*]}"
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "setup: Debian packages installed"
  else
    echo "setup: Debian packages present"
  fi
fi

# onnxruntime-node's install script downloads CUDA libraries; this machine has no internet and the CPU
# provider is bundled. A GPU host installs the CUDA provider separately (README, "GPU hosts").
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (Node 22 comes with them as a devDependency)"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: node $(node_modules/.bin/node --version) ready"
