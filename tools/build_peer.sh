#!/usr/bin/env bash
# Builds llama.cpp's llama-bench (the peer of `make bench-peer`) from the llama-cpp-python source
# distribution on PyPI, outside the repository: $PEER_DIR (default ~/.cache/streaming-sinks/peer).
# CPU only, -march=native (GGML_NATIVE), Release, no CURL. Prints the path of llama-bench. Also
# builds llama-quantize (`make bench-peer-kquant` makes a Q4_K_M file with it).
set -euo pipefail
PEER_DIR=${PEER_DIR:-$HOME/.cache/streaming-sinks/peer}
JOBS=${JOBS:-2}
mkdir -p "$PEER_DIR"
cd "$PEER_DIR"
if [ ! -f llama-bench ]; then
    sdist=$(ls llama_cpp_python-*.tar.gz 2>/dev/null | head -1 || true)
    if [ -z "$sdist" ]; then
        # --no-binary for llama-cpp-python only: pip builds its metadata with scikit-build-core,
        # which may come as a wheel
        pip download --no-binary llama-cpp-python --no-deps -d "$PEER_DIR" llama-cpp-python >&2
        sdist=$(ls llama_cpp_python-*.tar.gz | head -1)
    fi
    src=${sdist%.tar.gz}
    [ -d "$src" ] || tar xzf "$sdist"
    cmake -S "$src/vendor/llama.cpp" -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_CUDA=OFF \
        -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON >&2
    cmake --build build --target llama-bench -j "$JOBS" >&2
    cp "$(find build -name llama-bench -type f -perm -u+x | head -1)" llama-bench
    echo "$src" > source.txt
fi
if [ ! -f llama-quantize ]; then
    cmake --build build --target llama-quantize -j "$JOBS" >&2
    cp "$(find build -name llama-quantize -type f -perm -u+x | head -1)" llama-quantize
fi
echo "$PEER_DIR/llama-bench"
