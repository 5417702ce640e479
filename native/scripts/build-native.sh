#!/usr/bin/env bash
# Builds the native libraries NeuronScope loads: llama, ggml (+ CPU variants chosen at run time),
# mtmd, with the project's patches applied on top of the pinned llama.cpp.
#
#   build-native.sh <cpu|cuda> <output-dir> [<include-dir> [<source-link>]]
#
# <output-dir> receives the shared libraries (and .libraries, their names); <include-dir>, if
# given, the C headers they were built from (for bindings and the struct-layout test);
# <source-link>, if given, becomes a symbolic link to the patched llama.cpp tree (tests read its
# vocab files, tokenizer test vectors and media samples).
#
# Source of llama.cpp (see ../llama.cpp.properties):
#   - by default the npm package pinned there, fetched by name, integrity-checked, unbundled;
#   - or a checkout of the same version given by NEURONSCOPE_LLAMA_SRC (never modified: patches
#     are applied to a copy).
# The project's own native sources (native/include, native/src, native/tests) are copied into the
# patched copy (see lib.sh for where); the patches only wire them into llama.cpp's files. The cpu
# variant also builds the hooks' tests (-DLLAMA_NH_TESTS=ON) and runs them with CTest: a failing
# test fails the build.
# Results are cached under ${NEURONSCOPE_CACHE:-~/.cache/neuronscope}, keyed by a hash of
# everything that decides them (version, everything under native/ but target/: patches, sources,
# scripts; cmake arguments, variant): a second build with nothing native changed copies the cached
# libraries and compiles nothing.
#
# Other environment: NEURONSCOPE_NATIVE_JOBS (parallel compile jobs, default: all cores),
# NEURONSCOPE_CUDA_ARCHS (CMAKE_CUDA_ARCHITECTURES for the cuda variant, default "80;90").
set -euo pipefail

variant=${1:?usage: build-native.sh <cpu|cuda> <output-dir>}
out_dir=${2:?usage: build-native.sh <cpu|cuda> <output-dir>}
include_out=${3:-}
source_link=${4:-}
case "$variant" in cpu|cuda) ;; *) echo "build-native: unknown variant '$variant' (cpu or cuda)" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
native_dir=$(dirname "$here")
log_name=build-native
# shellcheck source=lib.sh
source "$here/lib.sh"
jobs=${NEURONSCOPE_NATIVE_JOBS:-$(nproc)}

# The CPU backend is built once per x86-64 feature level (GGML_CPU_ALL_VARIANTS: x64, sse42,
# sandybridge, haswell, skylakex, icelake, zen4, ...). ggml loads the best one the running CPU
# supports, so the libraries never die with SIGILL on an older CPU than the build machine's:
# 'x64' needs only the x86-64 baseline.

# ---------------------------------------------------------------- cmake
cmake_args=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=ON
  -DCMAKE_INSTALL_RPATH='$ORIGIN'
  -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON
  -DGGML_BACKEND_DL=ON
  -DGGML_NATIVE=OFF
  -DGGML_OPENMP=OFF
  -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_MTMD=ON -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF
)
targets=(all) # with tools, tests, examples and servers off: ggml, its backends, llama, mtmd
run_tests=false
if [[ "$variant" == cpu ]]; then
  # + the neuron hooks' own tests (native/tests), run by CTest after the build
  cmake_args+=(-DGGML_CPU_ALL_VARIANTS=ON -DLLAMA_NH_TESTS=ON)
  run_tests=true
else
  command -v nvcc >/dev/null || fail "the cuda variant needs nvcc (CUDA toolkit with cuBLAS) on PATH"
  cmake_args+=(-DGGML_CPU=OFF -DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${NEURONSCOPE_CUDA_ARCHS:-80;90}")
  targets=(ggml-cuda)
fi

# The key covers what decides the result: source, patches, the project's native sources and
# scripts (everything under native/ but target/), cmake arguments, result layout.
result_layout=3
# ---------------------------------------------------------------- build key
src=$(pristine_source)
key_input=$( {
  echo "variant=$variant layout=$result_layout"
  echo "cmake: ${cmake_args[*]} targets: ${targets[*]}"
  if [[ -n "${NEURONSCOPE_LLAMA_SRC:-}" ]]; then echo "src=$src"; else echo "commit=$pinned_commit"; fi
  native_inputs_hash
} )
key=$(echo "$key_input" | sha256sum | cut -c1-16)
result=$cache/native/$variant-$key

install_result() {
  rm -rf "$out_dir"
  mkdir -p "$out_dir"
  cp -a "$result/lib/." "$out_dir/"
  if [[ -n "$include_out" ]]; then
    rm -rf "$include_out"
    mkdir -p "$include_out"
    cp -a "$result/include/." "$include_out/"
  fi
  if [[ -n "$source_link" ]]; then
    rm -f "$source_link"
    ln -s "$(cat "$result/source-dir.txt")" "$source_link"
  fi
}

# A user's own checkout is always rebuilt incrementally (its files may have changed).
if [[ -f "$result/.complete" && -z "${NEURONSCOPE_LLAMA_SRC:-}" ]]; then
  log "up to date: $result"
  install_result
  exit 0
fi

log "building $variant-$key into $result"

# ---------------------------------------------------------------- patched copy of the tree
# The work tree is keyed by variant, cmake arguments and tree layout, not by the patches or
# sources: when the patches change, the old ones are reversed and the new ones applied, and the
# project's sources are copied over when they differ, so only what changed is recompiled.
# (Layout 2: the hooks' sources come from native/, the patch only wires them in.)
tree_layout=2
work_key=$(echo "$variant ${cmake_args[*]} ${NEURONSCOPE_LLAMA_SRC:-$pinned_commit} tree=$tree_layout" | sha256sum | cut -c1-16)
work=$cache/work/$variant-$work_key
# Builds from different checkouts share this work tree: one at a time, or one would compile the
# other's sources. The lock is held until this script exits.
if command -v flock >/dev/null; then
  mkdir -p "$cache/locks"
  exec 9>"$cache/locks/$variant-$work_key.lock"
  if ! flock -n 9; then
    log "another native build is using $work; waiting for it"
    flock 9
  fi
  if [[ -f "$result/.complete" && -z "${NEURONSCOPE_LLAMA_SRC:-}" ]]; then
    log "built meanwhile: $result"
    install_result
    exit 0
  fi
fi
patched=$work/src
applied=$work/applied-patches
fresh_tree() {
  rm -rf "$patched" "$applied" "$work/native-sources"
  mkdir -p "$patched" "$applied"
  (cd "$src" && tar --exclude=.git -cf - .) | tar -xf - -C "$patched"
}
if [[ ! -d "$applied" ]]; then
  fresh_tree
elif [[ "$(cd "$applied" && sha256sum -- *.patch 2>/dev/null | cut -d' ' -f1)" != \
        "$(for p in $(patch_series); do sha256sum "$p" | cut -d' ' -f1; done)" ]]; then
  for p in $(find "$applied" -name '*.patch' | LC_ALL=C sort -r); do
    git -C "$patched" apply -R "$p" 2>/dev/null || { log "cannot reverse $(basename "$p"); starting from a fresh tree"; fresh_tree; break; }
    rm -f "$p"
  done
fi
for p in $(patch_series); do
  [[ -f "$applied/$(basename "$p")" ]] && continue
  apply_patch "$patched" "$p" "$work/patch-error.txt"
  cp "$p" "$applied/"
done
install_native_sources "$patched" "$src" "$work/native-sources"

build=$work/build
log "configuring ($variant) in $build"
cmake -S "$patched" -B "$build" "${cmake_args[@]}" >"$work/cmake-configure.log" 2>&1 \
  || { tail -30 "$work/cmake-configure.log" >&2; fail "cmake configure failed (full log: $work/cmake-configure.log)"; }
log "compiling ${targets[*]} with $jobs jobs (first build takes a while)"
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$work/cmake-build.log" 2>&1 \
  || { tail -40 "$work/cmake-build.log" >&2; fail "native build failed (full log: $work/cmake-build.log)"; }

if $run_tests; then
  # The neuron hooks' tests (native/tests): synthetic models, no Java. A failure fails the build.
  # One at a time: each decodes with 2 threads, and ggml's spinning threads slow down a lot when
  # there are more of them than cores.
  log "testing: ctest -L neuron-hooks"
  if ! (cd "$build" && ctest -L neuron-hooks --output-on-failure) >"$work/ctest.log" 2>&1; then
    tail -60 "$work/ctest.log" >&2
    fail "neuron hooks tests failed (full log: $work/ctest.log)"
  fi
  grep -E 'tests passed|Total Test time' "$work/ctest.log" | sed 's/^/build-native:   /' >&2 || true
  grep -h '^bench-nh' "$build"/tests/neuron-hooks/bench-nh-smoke.txt 2>/dev/null | sed 's/^/build-native:   /' >&2 || true
fi

# ---------------------------------------------------------------- collect
staging=$result.tmp
rm -rf "$staging"
mkdir -p "$staging/lib" "$staging/include"
# Shared objects are stored under their SONAME (what DT_NEEDED asks for), so that loading them
# by file name in dependency order lets the dynamic linker and ggml's registry see each once.
while IFS= read -r -d '' so; do
  real=$(readlink -f "$so")
  soname=$(objdump -p "$real" 2>/dev/null | awk '/SONAME/ {print $2}')
  name=${soname:-$(basename "$so")}
  [[ -f "$staging/lib/$name" ]] || cp "$real" "$staging/lib/$name"
done < <(find "$build/bin" "$build" -maxdepth 1 \( -name 'lib*.so' -o -name 'lib*.so.*' \) -print0 2>/dev/null)
for h in include/llama.h ggml/include/ggml.h ggml/include/ggml-backend.h ggml/include/ggml-alloc.h \
         ggml/include/ggml-cpu.h ggml/include/ggml-opt.h ggml/include/gguf.h \
         tools/mtmd/mtmd.h tools/mtmd/mtmd-helper.h; do
  cp "$patched/$h" "$staging/include/"
done
find "$patched/include" -maxdepth 1 -name 'llama-*.h' -exec cp {} "$staging/include/" \;
# The loader keys its extraction cache by this file and checks each library against it.
(cd "$staging/lib" && sha256sum -- *) >"$staging/lib/.libraries"
echo "$key_input" >"$staging/build-key.txt"
echo "$patched" >"$staging/source-dir.txt"
rm -rf "$result"
mv "$staging" "$result"
touch "$result/.complete"
log "built $(wc -l <"$result/lib/.libraries") libraries into $result"
install_result
