#!/bin/sh
# Runs chapter NN's program: chapters/run.sh NN BUILD_DIR [ARGS...]
set -eu
n=$1 build=$2
shift 2
exec "$build/chapters/ch$n" "$@"
