#!/usr/bin/env bash
# Builds llama.cpp's llama-bench (the peer of `make bench-peer`) from the llama-cpp-python source
# distribution on PyPI, outside the repository: $PEER_DIR (default ~/.cache/streaming-sinks/peer).
# Release, -march=native (GGML_NATIVE), no CURL. Prints the path of llama-bench. Also builds
# llama-quantize (`make bench-peer-kquant` makes a Q4_K_M file with it).
#   PEER_CUDA=1   the CUDA build instead (llama-bench-cuda, for `make bench-peer-gpu`), for the
#                 GPU architectures in CUDA_ARCH (default 90: the H100).
#   PEER_SRC=F    take the source from F, a tarball of llama.cpp's tree as `make peer-src` makes
#                 it, instead of the sdist (for a machine that cannot reach PyPI).
#   TARBALL=F     only write that trimmed source tarball to F (what `make peer-src` does).
set -euo pipefail
PEER_DIR=${PEER_DIR:-$HOME/.cache/streaming-sinks/peer}
JOBS=${JOBS:-2}
PEER_CUDA=${PEER_CUDA:-0}
CUDA_ARCH=${CUDA_ARCH:-90}
mkdir -p "$PEER_DIR"
cd "$PEER_DIR"

# The llama.cpp tree: from PEER_SRC, else from the sdist (downloaded once).
source_tree() {
    if [ -n "${PEER_SRC:-}" ]; then
        [ -d src-tarball/llama.cpp ] || { mkdir -p src-tarball && tar xJf "$PEER_SRC" -C src-tarball; }
        cp src-tarball/llama.cpp/.sdist source.txt 2>/dev/null || true
        echo "$PEER_DIR/src-tarball/llama.cpp"
        return
    fi
    sdist=$(ls llama_cpp_python-*.tar.gz 2>/dev/null | head -1 || true)
    if [ -z "$sdist" ]; then
        # --no-binary for llama-cpp-python only: pip builds its metadata with scikit-build-core,
        # which may come as a wheel
        pip download --no-binary llama-cpp-python --no-deps -d "$PEER_DIR" llama-cpp-python >&2
        sdist=$(ls llama_cpp_python-*.tar.gz | head -1)
    fi
    src=${sdist%.tar.gz}
    [ -d "$src" ] || tar xzf "$sdist"
    echo "$src" > source.txt
    echo "$src" > "$src/vendor/llama.cpp/.sdist" # which release, for the tables
    echo "$PEER_DIR/$src/vendor/llama.cpp"
}

if [ -n "${TARBALL:-}" ]; then
    # what building llama-bench needs: no models, docs, web UI or benchmarks data (176 MB -> ~9 MB)
    tree=$(source_tree)
    tar -C "$(dirname "$tree")" --exclude=llama.cpp/models --exclude=llama.cpp/docs --exclude=llama.cpp/benches \
        --exclude='llama.cpp/tools/server/public*' -cJf "$TARBALL" llama.cpp
    echo "$TARBALL"
    exit 0
fi

CONFIG=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON)
if [ "$PEER_CUDA" = 1 ]; then
    if [ ! -f llama-bench-cuda ]; then
        tree=$(source_tree)
        cmake -S "$tree" -B build-cuda "${CONFIG[@]}" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" >&2
        cmake --build build-cuda --target llama-bench -j "$JOBS" >&2
        cp "$(find build-cuda -name llama-bench -type f -perm -u+x | head -1)" llama-bench-cuda
    fi
    echo "$PEER_DIR/llama-bench-cuda"
    exit 0
fi
if [ ! -f llama-bench ]; then
    tree=$(source_tree)
    cmake -S "$tree" -B build "${CONFIG[@]}" -DGGML_CUDA=OFF >&2
    cmake --build build --target llama-bench -j "$JOBS" >&2
    cp "$(find build -name llama-bench -type f -perm -u+x | head -1)" llama-bench
fi
if [ ! -f llama-quantize ]; then
    cmake --build build --target llama-quantize -j "$JOBS" >&2
    cp "$(find build -name llama-quantize -type f -perm -u+x | head -1)" llama-quantize
fi
echo "$PEER_DIR/llama-bench"
