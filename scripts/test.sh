#!/usr/bin/env bash
# Install everything the test suite needs (Debian's X server libraries for Qt, the package with
# its test extras) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

xvfb_packages=(xvfb xauth libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0
  libxcb-cursor0 libxcb-xkb1 libdbus-1-3 libgl1 libegl1 libfontconfig1)
missing=()
for pkg in "${xvfb_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "GUI tests need these Debian packages: ${missing[*]} (run as root or install them)" >&2
  fi
fi

python -m pip install -q -e ".[test]"
python -m pytest "$@"
