#!/usr/bin/env bash
# Builds and runs the neuron hooks' tests and benchmark with CMake and a C++ compiler only (no JDK,
# no Maven): for a GPU machine, or to work on the hooks without the Java build.
#
#   nh-tests.sh [--cuda] [--tree DIR] [--build DIR] [--no-bench] [-- <more cmake arguments>]
#
#   --cuda       also build ggml's CUDA backend (needs nvcc): the tests then run on the CPU and
#                on the first GPU, and the benchmark runs on both (CMAKE_CUDA_ARCHITECTURES from
#                NEURONSCOPE_CUDA_ARCHS, default "native")
#   --tree DIR   the patched tree (default $NEURONSCOPE_CACHE/nh-tests/tree): made or refreshed
#                by prepare-tree.sh. On a machine without npm, prepare it elsewhere and copy it:
#                  native/scripts/prepare-tree.sh /tmp/nh-tree && tar -C /tmp -czf nh-tree.tgz nh-tree
#                  (there) tar -xzf nh-tree.tgz && native/scripts/nh-tests.sh --cuda --tree nh-tree
#   --build DIR  the CMake build directory (default DIR/build-cpu or DIR/build-cuda)
#   --no-bench   tests only
#
# Steps: prepare-tree.sh; cmake configure (-DLLAMA_NH_TESTS=ON, shared libraries, no tools,
# common, examples or llama.cpp tests); build test-nh and bench-nh; `ctest -L neuron-hooks`;
# bench-nh on the CPU (and the GPU). Exit status: non-zero if a test fails.
# Environment: NEURONSCOPE_NATIVE_JOBS (parallel jobs, default: all cores), NEURONSCOPE_CACHE,
# NEURONSCOPE_LLAMA_SRC (see build-native.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
native_dir=$(dirname "$here")
log_name=nh-tests
# shellcheck source=lib.sh
source "$here/lib.sh"

cuda=false bench=true tree="" build=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cuda) cuda=true ;;
    --tree) tree=${2:?--tree needs a directory}; shift ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --no-bench) bench=false ;;
    --) shift; break ;;
    *) echo "usage: nh-tests.sh [--cuda] [--tree DIR] [--build DIR] [--no-bench] [-- <cmake arguments>]" >&2; exit 2 ;;
  esac
  shift
done
tree=${tree:-$cache/nh-tests/tree}
variant=$($cuda && echo cuda || echo cpu)
build=${build:-$tree/build-$variant}
jobs=${NEURONSCOPE_NATIVE_JOBS:-$(nproc)}

command -v cmake >/dev/null || fail "cmake is needed"
"$here/prepare-tree.sh" "$tree"

args=(
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_OPENMP=OFF
  -DLLAMA_NH_TESTS=ON
  -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF
  -DLLAMA_BUILD_MTMD=ON
)
if $cuda; then
  command -v nvcc >/dev/null || fail "--cuda needs nvcc (the CUDA toolkit) on PATH"
  args+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${NEURONSCOPE_CUDA_ARCHS:-native}")
fi
log "configuring ($variant) in $build"
cmake -S "$tree" -B "$build" "${args[@]}" "$@" >"$build.configure.log" 2>&1 \
  || { tail -30 "$build.configure.log" >&2; fail "cmake configure failed (full log: $build.configure.log)"; }
log "building test-nh, test-nh-mtmd, bench-nh with $jobs jobs"
cmake --build "$build" -j "$jobs" --target test-nh test-nh-mtmd bench-nh >"$build.build.log" 2>&1 \
  || { tail -40 "$build.build.log" >&2; fail "build failed (full log: $build.build.log)"; }

status=0
log "ctest -L neuron-hooks"
(cd "$build" && ctest -L neuron-hooks --output-on-failure) || status=1

if $bench; then
  bin=$build/bin/bench-nh
  log "benchmark (cpu)"
  "$bin" --ngl 0 --threads "$jobs" || status=1
  if $cuda; then
    log "benchmark (gpu)"
    "$bin" --ngl -1 --tokens 512 || status=1
  fi
fi
[[ $status -eq 0 ]] && log "all passed" || log "FAILED"
exit $status
