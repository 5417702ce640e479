#!/usr/bin/env bash
# stats over Spark against plain stats (issue 17): builds the spark module with its tests' classes and
# runs SparkOverheadBenchmark (spark/src/test) twice: `overhead` (plain StatsExperiment.run against
# SparkStats.run on local[1], one partition, alternated round by round) and `executors`
# (local-cluster with 1 executor against 2 executors, separate JVMs, 1 decode thread each). Each
# prints per-round times, the medians and the load average at start and end.
#
#   benchmarks/scripts/spark-bench.sh [ROUNDS [SAMPLES [LAYERS]]]       # default 3 12 12
#
# The executors mode uses the same rounds, two thirds of the samples and half the layers (BENCHMARKS.md: 3 8 6).
# Quick check: benchmarks/scripts/spark-bench.sh 1 4 2. The first run writes the synthetic model.
set -euo pipefail
rounds=${1:-3}
samples=${2:-12}
layers=${3:-12}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cp_file=$root/spark/target/spark-bench-classpath.txt
echo "spark-bench: building (mvn -o test-compile -pl spark -am) ..." >&2
mvn -B -o -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=test \
  -pl spark -am >&2

java=${NEURONSCOPE_JAVA:-}
if [[ -z "$java" ]]; then
  for c in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [[ -n "$c" && -x "$c" ]] || continue
    v=$("$c" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p' | head -1)
    # Spark 4.2 runs on Java 25 from 25.0.3
    [[ "$v" =~ ^([0-9]+)(\.[0-9]+)?(\.([0-9]+))? ]] || continue
    major=${BASH_REMATCH[1]}
    patch=${BASH_REMATCH[4]:-0}
    if (( major > 25 || (major == 25 && patch >= 3) )); then java=$c; break; fi
  done
fi
[[ -n "$java" ]] || { echo "spark-bench: no JDK >= 25.0.3 found; set NEURONSCOPE_JAVA" >&2; exit 1; }
# the project's flags and Spark's --add-opens list (README, "Over a cluster: Spark")
flags="--enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector -Xss8m -XX:+IgnoreUnrecognizedVMOptions \
--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED \
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
--add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED \
--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED \
--add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED \
-Dio.netty.tryReflectionSetAccessible=true --sun-misc-unsafe-memory-access=allow"
cd "$root/spark"
cp="$root/spark/target/test-classes:$root/spark/target/classes:$(cat "$cp_file")"
run() {
  # shellcheck disable=SC2086
  "$java" $flags -Dneuronscope.llama.src="$root/native/target/llama.cpp" -Dneuronscope.spark.test.jvm.args="$flags" \
    ${SPARK_BENCH_JAVA_OPTS:-} -cp "$cp" org.neuronscope.spark.SparkOverheadBenchmark "$@"
}
run overhead "$rounds" "$samples" "$layers"
run executors "$rounds" $(( samples > 2 ? samples * 2 / 3 : 2 )) $(( layers > 1 ? layers / 2 : 1 ))
