#!/usr/bin/env bash
# Builds llama.cpp's own tools llama-bench, llama-imatrix and llama-perplexity from the same pinned
# tree and with the library's CMake settings (native/scripts/build-native.sh, cpu variant; tools
# and llama-common on, the CPU backends off), into a build directory of its own:
#
#   build-tools.sh            prints the directory holding the tools (bin/), building it if needed
#
# Source: the patched copy of the pinned llama.cpp that build-native.sh compiled the library from
# (native/target/llama.cpp links to it; run `mvn -B -o -DskipTests package -pl native` first). Its
# patch adds hook calls that do nothing unless a NeuronScope hook is configured, which these tools
# never do, so they run llama.cpp's own graphs. The CPU backends (the ggml-cpu variants, where the
# kernels are) are not compiled again: the library's own are copied beside the tools, so both run
# the very same kernels (GGML_CPU=OFF here: ggml loads backends at run time, GGML_BACKEND_DL). The library's native cache key is not touched: this
# script lives outside native/ and writes only to its own directory,
# ${NEURONSCOPE_CACHE:-~/.cache/neuronscope}/tools/cpu-<hash of the tree, the patches and these arguments>.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${NEURONSCOPE_CACHE:-$HOME/.cache/neuronscope}
log() { echo "build-tools: $*" >&2; }
fail() { echo "build-tools: ERROR: $*" >&2; exit 1; }

link=$root/native/target/llama.cpp
[[ -e "$link" ]] || fail "$link is missing: build the native module first (mvn -B -o -DskipTests package -pl native)"
src=$(readlink -f "$link")
work_name=$(basename "$(dirname "$src")")         # cpu-<work key> of build-native.sh
[[ -f "$src/include/llama.h" ]] || fail "$src is not a llama.cpp tree"
natives=$root/native/target/natives-cpu/org/neuronscope/native/linux-x86_64
compgen -G "$natives/libggml-cpu-*.so" >/dev/null || fail "no CPU backends in $natives: build the native module first"

cmake_args=(
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON
  -DCMAKE_INSTALL_RPATH='$ORIGIN' -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON
  -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DGGML_CPU=OFF
  -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_MTMD=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF
)
# (llama.cpp's CMake uses ccache by itself when it is installed, as in the library's build)
key=$( { echo "$src ${cmake_args[*]}"; cat "$(dirname "$src")"/applied-patches/*.patch 2>/dev/null; cat "$natives/.libraries" 2>/dev/null; } \
  | sha256sum | cut -c1-16)
dir=$cache/tools/cpu-$key
if [[ -f "$dir/.complete" ]]; then echo "$dir"; exit 0; fi

# the same lock as build-native.sh: the tree must not change (patches reversed/applied) under us
mkdir -p "$cache/locks" "$dir"
exec 9>"$cache/locks/$work_name.lock"
if ! flock -n 9; then log "a native build is using $src; waiting for it"; flock 9; fi
log "configuring in $dir/build (source $src)"
cmake -S "$src" -B "$dir/build" "${cmake_args[@]}" >"$dir/configure.log" 2>&1 \
  || { tail -30 "$dir/configure.log" >&2; fail "cmake configure failed (log: $dir/configure.log)"; }
log "compiling llama-bench llama-imatrix llama-perplexity (ggml-base, ggml, llama, common)"
cmake --build "$dir/build" -j "${NEURONSCOPE_NATIVE_JOBS:-$(nproc)}" --target llama-bench llama-imatrix llama-perplexity \
  >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log" >&2; fail "build failed (log: $dir/build.log)"; }
# The CPU backends: the library's own (the same source and flags), copied beside the tools, where
# ggml's registry looks for them; the AMX variant is left out as the library's loader leaves it out
# (NativeLibraries: SIGILL on some virtual machines that report AMX).
for so in "$natives"/libggml-cpu-*.so; do
  [[ "$(basename "$so")" == libggml-cpu-sapphirerapids.so ]] && continue
  cp "$so" "$dir/build/bin/"
done
ln -sfn build/bin "$dir/bin"
touch "$dir/.complete"
echo "$dir"
