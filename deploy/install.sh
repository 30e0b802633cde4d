#!/usr/bin/env bash
# Installs what the local stack and the tests need, skipping whatever is
# already there, so a warm run takes a second:
#   - Debian packages: compiler, CMake, the C libraries, kcat, a JRE, Maven,
#     Go and Node.js (each skipped when the machine has its own already),
#     clang with its libFuzzer runtime for the fuzz test, PostgreSQL 15 for
#     FerretDB and acl (root lets the postgres user reach the clusters'
#     directories with setfacl). The package makes and may start Debian's
#     own cluster "main" on port 5432; ours never use it nor its port
#     (deploy/lib/stack.sh); Chromium, which the web client's browser test
#     drives headless (web/test/browser.test.mjs);
#   - the Kafka broker's jars, resolved by Maven from deploy/kafka/pom.xml
#     (cached in ~/.m2) into $CHAT_DEV_CACHE_DIR/kafka-<version>/lib, and a
#     class-data archive of the broker's JVM that starts it a second sooner
#     (remade when the jars or the JDK change);
#   - chat-ferretdb, built by Go from deploy/ferretdb/ (cached in Go's module
#     and build caches) into $CHAT_DEV_CACHE_DIR/bin, named after a hash of
#     its sources (stack_ferretdb_bin).
# Settings: CHAT_DEV_CACHE_DIR (default ~/.cache/chat-backend).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/stack.sh
source "$here/lib/stack.sh"

packages=(build-essential cmake pkg-config curl python3 python3-venv
  librdkafka-dev libmongoc-dev libbson-dev libwebsockets-dev libjwt-dev libsodium-dev
  libcriterion-dev kcat clang libclang-rt-14-dev openjdk-17-jre-headless maven golang-go
  nodejs npm postgresql-15 acl iproute2 chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
# A toolchain the machine already has outside Debian's packages will do.
filtered=()
for package in "${missing[@]}"; do
  case "$package" in
  golang-go) command -v go >/dev/null || filtered+=("$package") ;;
  maven) command -v mvn >/dev/null || filtered+=("$package") ;;
  nodejs | npm) command -v "${package/nodejs/node}" >/dev/null || filtered+=("$package") ;;
  openjdk-17-jre-headless) command -v java >/dev/null || filtered+=("$package") ;;
  python3 | python3-venv) python3 -c 'import venv' 2>/dev/null || filtered+=("$package") ;;
  postgresql-15) [ -x "$STACK_PG_BIN/initdb" ] && [ -x "$STACK_PG_BIN/psql" ] || filtered+=("$package") ;;
  acl) command -v setfacl >/dev/null || filtered+=("$package") ;;
  *) filtered+=("$package") ;;
  esac
done
if [ ${#filtered[@]} -gt 0 ]; then
  echo "install: Debian packages: ${filtered[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${filtered[@]}" >/dev/null
else
  echo "install: Debian packages present"
fi

kafka_lib=$(stack_kafka_lib)
if [ ! -f "$kafka_lib/.complete" ]; then
  echo "install: resolving Kafka $STACK_KAFKA_VERSION jars with Maven"
  rm -rf "$kafka_lib" "$(stack_kafka_cds)"
  # Debian's Maven prints colour codes even with -q -B: show its output only
  # when it fails.
  if ! mvn_out=$(mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$STACK_KAFKA_VERSION" -DincludeScope=runtime \
    -DoutputDirectory="$kafka_lib" 2>&1); then
    echo "$mvn_out" >&2
    exit 1
  fi
  touch "$kafka_lib/.complete"
else
  echo "install: Kafka $STACK_KAFKA_VERSION jars present"
fi

kafka_cds=$(stack_kafka_cds)
jdk=$(java -version 2>&1 | tr '\n' ' ')
if [ ! -s "$kafka_cds" ] || [ "$(cat "$kafka_cds.jdk" 2>/dev/null)" != "$jdk" ]; then
  echo "install: making the Kafka class-data archive"
  rm -f "$kafka_cds"
  stack__kafka_make_cds
  echo "$jdk" >"$kafka_cds.jdk"
else
  echo "install: Kafka class-data archive present"
fi

ferretdb_bin=$(stack_ferretdb_bin)
if [ ! -x "$ferretdb_bin" ]; then
  echo "install: building chat-ferretdb with Go"
  mkdir -p "$(dirname "$ferretdb_bin")"
  # Built beside its final name and moved there: another checkout may be
  # starting the same binary meanwhile.
  (cd "$here/ferretdb" && go build -o "$ferretdb_bin.tmp.$$" .)
  mv -f "$ferretdb_bin.tmp.$$" "$ferretdb_bin"
else
  echo "install: chat-ferretdb present"
fi
