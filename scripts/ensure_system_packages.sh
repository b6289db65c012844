#!/usr/bin/env bash
# Installs Debian's chromium (browser tests, static figure export, PDF report) and poppler-utils
# (pdftotext, used by the report tests), postgresql (registry-source tests), Java 17+ (Spark registry-source
# tests) and R (reproducible-code snippets) when they are missing.
set -euo pipefail
missing=()
command -v chromium  >/dev/null 2>&1 || missing+=(chromium)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
# PostgreSQL server binaries (initdb, pg_ctl) for the registry-source tests (support.postgres)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# Java 17+ for the Spark registry-source tests (a local PySpark session)
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1 || true)
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || missing+=(openjdk-17-jre-headless)
# R with survival and cmprsk: the "show code" R snippets are run and compared with il2lib's numbers
for pkg in r-base-core r-cran-survival r-cran-cmprsk; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}. Run once, then repeat 'make test':" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} from Debian ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
