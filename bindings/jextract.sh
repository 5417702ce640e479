#!/usr/bin/env bash
# Regenerates the committed FFM bindings (src/main/java/org/neuronscope/bindings) with an installed
# jextract of its current line (https://github.com/openjdk/jextract, master; built with a JDK 23 or
# newer, and its output needs Java 23: SymbolLookup.findOrThrow). jextract is not part of this
# project; point JEXTRACT at its launcher:
#
#   JEXTRACT=/path/to/jextract/bin/jextract bindings/jextract.sh
#
# The headers are the ones the native module built from (native/target/include, filled by
# `mvn -pl native package`), so the bindings always match the pinned, patched llama.cpp.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
jextract=${JEXTRACT:?set JEXTRACT to the jextract launcher (bin/jextract of a jextract build, JDK 23 or newer)}
include=${NEURONSCOPE_INCLUDE:-$here/../native/target/include}
[[ -f "$include/llama-neuron-hooks.h" ]] || { echo "jextract.sh: no patched headers in $include; run 'mvn -pl native package' first" >&2; exit 1; }
out=$here/src/main/java
rm -rf "$out/org/neuronscope/bindings"
"$jextract" \
  --target-package org.neuronscope.bindings \
  --header-class-name neuronscope_h \
  --output "$out" \
  -I "$include" \
  @"$here/jextract-input/symbols.txt" \
  "$here/jextract-input/neuronscope.h"
echo "jextract.sh: bindings written to $out/org/neuronscope/bindings ($("$jextract" --version 2>&1 | head -1))"
