#!/usr/bin/env bash
# Regenerates the wiring patch from a tree made by prepare-tree.sh, after editing llama.cpp's own
# files there:
#
#   make-patch.sh <dir> [<patch file>]     (default: native/patches/0001-neuron-hooks.patch)
#
# The patch is `git diff` of llama.cpp's tracked files against the pristine commit: the project's
# own sources (native/include, native/src, native/tests) are not in it. Edit those in native/
# (prepare-tree.sh --link makes the tree's copies links to them); a copy in the tree that differs
# from native/ is reported, never copied back silently.
set -euo pipefail

tree=${1:?usage: make-patch.sh <dir> [<patch file>]}
here=$(cd "$(dirname "$0")" && pwd)
native_dir=$(dirname "$here")
log_name=make-patch
# shellcheck source=lib.sh
source "$here/lib.sh"
out=${2:-$native_dir/patches/0001-neuron-hooks.patch}

[[ -f "$tree/.neuronscope-tree" ]] || fail "$tree was not made by prepare-tree.sh"
if [[ $(patch_series | wc -l) -gt 1 ]]; then
  log "warning: the series has $(patch_series | wc -l) patches; $out receives all of the tree's changes"
fi

others=$(git -C "$tree" status --porcelain --untracked-files=all | sed -n 's/^?? //p')
if [[ -n "$others" ]]; then
  log "warning: untracked files in $tree are not in the patch (a new source belongs in native/src):"
  echo "$others" | sed 's/^/  /' >&2
fi
differ=0
while IFS=$'\t' read -r from to; do
  if [[ -f "$tree/$to" && ! -L "$tree/$to" ]] && ! cmp -s "$native_dir/$from" "$tree/$to"; then
    log "warning: $tree/$to differs from native/$from (copy it back if that edit is wanted)"
    differ=1
  fi
done < <(native_source_map)

git -C "$tree" diff --no-color --no-ext-diff HEAD >"$out.tmp"
mv "$out.tmp" "$out"
log "wrote $out ($(grep -c '^diff --git' "$out") files, $(wc -l <"$out") lines)"
exit $differ
