#!/usr/bin/env bash
# start.sh HOME PORT: builds the launcher once (offline when the local Maven
# repository already holds its jars) and runs a single-node OpenSearch 2.19
# in-process, HTTP on 127.0.0.1:PORT, data and snapshot repositories
# (path.repo = HOME/repo) under HOME. It prints "started" when the node
# is up, stops when its standard input closes, and then removes HOME.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f target/classpath.txt ] || [ pom.xml -nt target/classpath.txt ] ||
  [ src/main/java/bank/opensearchnode/Main.java -nt target/classpath.txt ]; then
  # mvn writes its errors to standard output, which is the node's "started".
  mvn -q -B -o package -DskipTests >/dev/null 2>&1 || mvn -q -B package -DskipTests >&2
fi
trap 'rm -rf "$1"' EXIT
java -Xms256m -Xmx512m -XX:+UseSerialGC -Dlog4j2.level=WARN \
  -cp "target/opensearchnode-1.jar:$(cat target/classpath.txt)" bank.opensearchnode.Main "$1" "$2"
