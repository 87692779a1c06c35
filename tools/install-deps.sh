#!/bin/sh
# Installs the Debian packages the project builds and tests with (needs root or sudo).
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS="build-essential pkg-config check libcjson-dev libpcre2-dev libpng-dev libutf8proc-dev libedit-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libjs-katex fonts-katex chromium clang"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || missing="$missing python3-pip"
if [ -n "$missing" ]; then
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
else
    echo "all build dependencies are installed"
fi
