# Shared by build-native.sh, prepare-tree.sh and nh-tests.sh (sourced, not run): where the pinned
# llama.cpp comes from, the patch series, and the project's own native sources.
#
# The project's sources are copied into the llama.cpp tree as follows; the patch series only wires
# them into llama.cpp's own files:
#
#   native/include/*   -> include/              (llama-neuron-hooks.h, the C API)
#   native/src/*       -> src/                  (llama-nh.cpp, llama-nh.h, llama-nh-graph.h)
#   native/tests/*     -> tests/neuron-hooks/   (CTest programs, built with -DLLAMA_NH_TESTS=ON)
#
# Expects: native_dir (the native/ directory). Honors NEURONSCOPE_CACHE, NEURONSCOPE_LLAMA_SRC,
# NEURONSCOPE_PATCH_DIR (see build-native.sh).

patch_dir=${NEURONSCOPE_PATCH_DIR:-$native_dir/patches}
cache=${NEURONSCOPE_CACHE:-$HOME/.cache/neuronscope}

prop() { sed -n "s/^$1=//p" "$native_dir/llama.cpp.properties"; }
npm_package=$(prop npm.package)
npm_version=$(prop npm.version)
npm_integrity=$(prop npm.integrity)
pinned_commit=$(prop llama.cpp.commit)
ggml_version=$(prop ggml.version)

fail() { echo "${log_name:-native}: ERROR: $*" >&2; exit 1; }
log() { echo "${log_name:-native}: $*" >&2; }

# ---------------------------------------------------------------- llama.cpp source
# Prints the directory of an unmodified llama.cpp tree of the pinned version.
pristine_source() {
  if [[ -n "${NEURONSCOPE_LLAMA_SRC:-}" ]]; then
    local src=$NEURONSCOPE_LLAMA_SRC
    [[ -f "$src/include/llama.h" && -f "$src/ggml/CMakeLists.txt" ]] \
      || fail "NEURONSCOPE_LLAMA_SRC=$src is not a llama.cpp source tree (no include/llama.h)"
    local v
    v=$(sed -n 's/^set(GGML_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' "$src/ggml/CMakeLists.txt" | paste -sd.)
    [[ "$v" == "$ggml_version" ]] \
      || fail "NEURONSCOPE_LLAMA_SRC=$src has ggml $v, but this project is pinned to ggml $ggml_version (llama.cpp $pinned_commit)"
    if git -C "$src" rev-parse HEAD >/dev/null 2>&1 && [[ "$(git -C "$src" rev-parse HEAD)" != "$pinned_commit" ]]; then
      log "warning: $src is at $(git -C "$src" rev-parse HEAD), not the pinned $pinned_commit; building it anyway"
    fi
    echo "$src"
    return
  fi
  local dir=$cache/llama.cpp/$pinned_commit
  if [[ -f "$dir/.complete" ]]; then echo "$dir"; return; fi
  command -v npm >/dev/null \
    || fail "npm is needed to fetch $npm_package@$npm_version (or set NEURONSCOPE_LLAMA_SRC to a llama.cpp tree with ggml $ggml_version)"
  local tgz_dir=$cache/npm
  local tgz=$tgz_dir/$npm_package-$npm_version.tgz
  mkdir -p "$tgz_dir"
  if [[ ! -f "$tgz" ]]; then
    log "fetching $npm_package@$npm_version with npm"
    (cd "$tgz_dir" && npm pack --silent "$npm_package@$npm_version" >/dev/null) \
      || fail "npm could not fetch $npm_package@$npm_version"
  fi
  local actual="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$actual" != "$npm_integrity" ]]; then
    rm -f "$tgz"
    fail "$npm_package@$npm_version failed its integrity check: expected $npm_integrity, got $actual"
  fi
  log "unbundling llama.cpp $pinned_commit"
  local tmp
  tmp=$(mktemp -d "$cache/unpack.XXXXXX")
  tar -xzf "$tgz" -C "$tmp" package/llama/gitRelease.bundle
  rm -rf "$dir"
  git clone --quiet --no-checkout "$tmp/package/llama/gitRelease.bundle" "$dir"
  git -C "$dir" -c advice.detachedHead=false checkout --quiet "$pinned_commit" \
    || fail "the bundle in $npm_package@$npm_version does not contain llama.cpp commit $pinned_commit"
  rm -rf "$tmp"
  touch "$dir/.complete"
  echo "$dir"
}

# ---------------------------------------------------------------- patches
patch_series() {
  # Patches in name order (0001-…, 0002-…); an empty series is allowed.
  find "$patch_dir" -maxdepth 1 -name '*.patch' | LC_ALL=C sort
}

# apply_patch <tree> <patch> <error-file>: applies one patch, or stops naming it and git's reason.
apply_patch() {
  local tree=$1 p=$2 err=$3
  if ! git -C "$tree" apply --check "$p" 2>"$err"; then
    echo "${log_name:-native}: ERROR: patch $(basename "$p") does not apply to llama.cpp $pinned_commit:" >&2
    sed 's/^/  /' "$err" >&2
    echo "${log_name:-native}: fix or regenerate the patch against the pinned tree (see native/README.md)" >&2
    exit 1
  fi
  git -C "$tree" apply "$p"
  log "applied $(basename "$p")"
}

# ---------------------------------------------------------------- the project's native sources
# Prints "<file under native/>\t<path in the llama.cpp tree>" for every source file, sorted.
native_source_map() {
  local f
  (cd "$native_dir" && find include src tests mtmd -type f 2>/dev/null | LC_ALL=C sort) | while IFS= read -r f; do
    case "$f" in
      include/*) printf '%s\t%s\n' "$f" "include/${f#include/}" ;;
      src/*)     printf '%s\t%s\n' "$f" "src/${f#src/}" ;;
      tests/*)   printf '%s\t%s\n' "$f" "tests/neuron-hooks/${f#tests/}" ;;
      mtmd/*)    printf '%s\t%s\n' "$f" "tools/mtmd/${f#mtmd/}" ;;
    esac
  done
}

# is_llama_file <pristine> <path>: whether <path> is one of llama.cpp's own files. <pristine> is
# an unmodified tree, or git:<repo> for a repository whose HEAD is the pristine tree.
is_llama_file() {
  if [[ "$1" == git:* ]]; then
    git -C "${1#git:}" cat-file -e "HEAD:$2" 2>/dev/null
  else
    [[ -e "$1/$2" ]]
  fi
}

# install_native_sources <tree> <pristine> <manifest> [link]
# Copies (or, with "link", symlinks) the project's sources into the tree. A file whose content is
# already there is left alone (an incremental build recompiles only what changed); a file copied
# by an earlier run and no longer in native/ is removed. A source may not take the place of one
# of llama.cpp's own files: those are changed through the patch series.
install_native_sources() {
  local tree=$1 pristine=$2 manifest=$3 mode=${4:-copy}
  local new_manifest=$manifest.new from to
  : >"$new_manifest"
  while IFS=$'\t' read -r from to; do
    ! is_llama_file "$pristine" "$to" \
      || fail "native/$from would replace llama.cpp's own $to; change llama.cpp's files through the patch series"
    mkdir -p "$(dirname "$tree/$to")"
    if [[ "$mode" == link ]]; then
      [[ -L "$tree/$to" && "$(readlink "$tree/$to")" == "$native_dir/$from" ]] \
        || { rm -f "$tree/$to"; ln -s "$native_dir/$from" "$tree/$to"; }
    elif [[ -L "$tree/$to" ]] || ! cmp -s "$native_dir/$from" "$tree/$to"; then
      [[ -e "$tree/$to" ]] && log "updating $to from native/$from"
      rm -f "$tree/$to"
      cp "$native_dir/$from" "$tree/$to"
    fi
    echo "$to" >>"$new_manifest"
  done < <(native_source_map)
  if [[ -f "$manifest" ]]; then
    while IFS= read -r to; do
      grep -qxF -- "$to" "$new_manifest" || rm -f "$tree/$to"
    done <"$manifest"
  fi
  mv "$new_manifest" "$manifest"
}

# Hash lines of everything under native/ that decides a build (all of it but target/ and editor
# droppings), plus the patch series when it comes from elsewhere (NEURONSCOPE_PATCH_DIR).
native_inputs_hash() {
  (cd "$native_dir" && find . -path ./target -prune -o -type f ! -name '*~' ! -name '.*.swp' -print | LC_ALL=C sort \
    | while IFS= read -r f; do sha256sum -- "$f"; done)
  if [[ "$patch_dir" != "$native_dir/patches" ]]; then
    local p
    for p in $(patch_series); do echo "$(sha256sum "$p" | cut -d' ' -f1)  patch:$(basename "$p")"; done
  fi
}
