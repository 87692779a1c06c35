#!/bin/sh
# Runs chapter NN's program: chapters/run.sh NN BUILD_DIR
set -eu
exec "$2/chapters/ch$1"
