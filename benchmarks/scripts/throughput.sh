#!/usr/bin/env bash
# The pipeline against llama.cpp's own tools (issue 19): builds the project's benchmarks module and
# llama-bench / llama-imatrix / llama-perplexity from the same pinned tree (build-tools.sh), then runs
# ThroughputBenchmark, which prints per-round figures, medians and medians of paired ratios.
#
#   benchmarks/scripts/throughput.sh [ThroughputBenchmark arguments]
#
# Default: the Qwen2-0.5B-shaped F16 model, 8 samples of 512 tokens, 2 threads, 3 rounds (about 6
# minutes on a quiet 2-core machine once built; the first run also writes the 1 GB model and builds
# the tools). Quick check: --shape small --rounds 2. Other arguments: see ThroughputBenchmark's javadoc.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cp_file=$root/benchmarks/target/benchmark-classpath.txt
echo "throughput: building (mvn -o package -pl benchmarks -am) ..." >&2
mvn -B -o -q -DskipTests package dependency:build-classpath -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=runtime \
  -pl benchmarks -am >&2
tools=$("$root/benchmarks/scripts/build-tools.sh")/bin

java=${NEURONSCOPE_JAVA:-}
if [[ -z "$java" ]]; then
  for c in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [[ -n "$c" && -x "$c" ]] || continue
    v=$("$c" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
    [[ "$v" =~ ^[0-9]+$ && "$v" -ge 23 ]] && { java=$c; break; }
  done
fi
[[ -n "$java" ]] || { echo "throughput: no JDK >= 23 found; set NEURONSCOPE_JAVA" >&2; exit 1; }
cd "$root/benchmarks"
exec "$java" --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector -Xss8m \
  -Dneuronscope.llama.src="$root/native/target/llama.cpp" -Dneuronscope.progress=lines \
  ${THROUGHPUT_JAVA_OPTS:-} -cp "$root/benchmarks/target/classes:$(cat "$cp_file")" \
  org.neuronscope.benchmarks.ThroughputBenchmark --tools "$tools" "$@"
