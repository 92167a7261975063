#!/usr/bin/env bash
# Install the system tools a make target needs, from Debian, when they are missing.
#   python  python3-venv (needed by `python3 -m venv` on Debian)
#   node    nodejs + npm (to build the dashboard's JavaScript from npm packages)
#   test    mosquitto + chromium (the test suite's real broker and browser),
#           g++ (with gcc: compiles the insole firmware's portable encoder for its tests)
set -euo pipefail

need=()
case "${1:-}" in
  python)
    python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
    ;;
  node)
    command -v node >/dev/null || need+=(nodejs)
    command -v npm >/dev/null || need+=(npm)
    ;;
  test)
    command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
    command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need+=(chromium)
    command -v pdftoppm >/dev/null || need+=(poppler-utils)  # report PDF pages as images
    { command -v gcc >/dev/null && command -v g++ >/dev/null; } || need+=(g++)
    ;;
  *)
    echo "usage: $0 python|node|test" >&2
    exit 2
    ;;
esac

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${need[*]} from Debian…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "calfload needs these Debian packages: ${need[*]}" >&2
  echo "Install them with:  sudo apt-get install ${need[*]}" >&2
  exit 1
fi
