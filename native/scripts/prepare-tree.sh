#!/usr/bin/env bash
# Prepares a patched llama.cpp tree by hand: to work on the hooks, to regenerate the patch, or to
# build and run the hooks' tests with CMake alone (nh-tests.sh calls this).
#
#   prepare-tree.sh [--link|--copy] <dir>
#
# A new <dir> becomes a copy of the pinned llama.cpp as a git repository whose one commit is the
# pristine tree; the patch series is applied on top, uncommitted (`git diff` shows the wiring),
# and the project's own sources are copied in (include/, src/, tests/neuron-hooks/; see lib.sh),
# untracked. --link makes them symbolic links to native/ instead, so that edits land there; a tree
# keeps the way it was made unless --link or --copy says otherwise.
#
# An existing <dir> made by this script is brought up to date: if the patch series changed, the
# tracked files are reset to the pristine commit and the series applied again; the sources are
# copied over where they differ. So a tree copied to another machine (one without npm, say) can be
# refreshed there from a newer checkout of this project.
#
# The pristine tree comes from where build-native.sh takes it: the pinned npm package (needs npm
# and openssl), or NEURONSCOPE_LLAMA_SRC. After editing the wiring: make-patch.sh <dir>.
set -euo pipefail

mode=""
case "${1:-}" in --link) mode=link; shift ;; --copy) mode=copy; shift ;; esac
tree=${1:?usage: prepare-tree.sh [--link|--copy] <dir>}

here=$(cd "$(dirname "$0")" && pwd)
native_dir=$(dirname "$here")
log_name=prepare-tree
# shellcheck source=lib.sh
source "$here/lib.sh"

marker=$tree/.neuronscope-tree
series_hash() { for p in $(patch_series); do sha256sum "$p" | cut -d' ' -f1; done | sha256sum | cut -c1-16; }

if [[ -e "$tree" && ! -f "$marker" ]]; then
  fail "$tree exists and was not made by prepare-tree.sh (no $marker)"
fi

if [[ ! -e "$tree" ]]; then
  src=$(pristine_source)
  log "copying llama.cpp ($src) to $tree"
  mkdir -p "$tree"
  (cd "$src" && tar --exclude=.git --exclude=.complete -cf - .) | tar -xf - -C "$tree"
  git -C "$tree" init --quiet
  git -C "$tree" -c user.name=neuronscope -c user.email=neuronscope@localhost -c core.autocrlf=false \
    add --all --force
  git -C "$tree" -c user.name=neuronscope -c user.email=neuronscope@localhost \
    commit --quiet --no-verify -m "llama.cpp $pinned_commit, pristine (NeuronScope prepare-tree.sh)"
  # the project's sources and the build are not llama.cpp's: keep them out of `git diff`/status
  printf '%s\n' /.neuronscope-tree /.neuronscope-sources /.neuronscope-sources.new /build*/ >>"$tree/.git/info/exclude"
  echo "src=$src" >"$marker"
  echo "series=" >>"$marker"
  echo "mode=${mode:-copy}" >>"$marker"
fi
if [[ -z "$mode" ]]; then
  mode=$(sed -n 's/^mode=//p' "$marker")
  mode=${mode:-copy}
fi
grep -q '^mode=' "$marker" && sed -i "s/^mode=.*/mode=$mode/" "$marker" || echo "mode=$mode" >>"$marker"

if [[ "$(sed -n 's/^series=//p' "$marker")" != "$(series_hash)" ]]; then
  if [[ -n "$(sed -n 's/^series=//p' "$marker")" ]]; then
    log "the patch series changed: resetting llama.cpp's files to the pristine commit"
    git -C "$tree" checkout --quiet -- .
  fi
  for p in $(patch_series); do
    apply_patch "$tree" "$p" "$tree/.git/patch-error.txt"
  done
  sed -i "s/^series=.*/series=$(series_hash)/" "$marker"
fi

# the manifest doubles as the list of paths git must not show
install_native_sources "$tree" "git:$tree" "$tree/.neuronscope-sources" "$mode"
while IFS= read -r f; do
  grep -qxF "/$f" "$tree/.git/info/exclude" || echo "/$f" >>"$tree/.git/info/exclude"
done <"$tree/.neuronscope-sources"
log "ready: $tree (llama.cpp $pinned_commit + $(patch_series | wc -l) patch(es) + native sources, ${mode})"
