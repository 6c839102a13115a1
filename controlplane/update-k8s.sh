#!/usr/bin/env bash
# Pins k8s.io/kubernetes at VERSION and generates a replace directive for every
# staging module it requires at v0.0.0, from its own go.mod (not by hand).
# Usage: controlplane/update-k8s.sh v1.35.4
set -euo pipefail
cd "$(dirname "$0")"
version=${1:?usage: $0 v1.X.Y}
minor_patch=${version#v1.}
modfile=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
go mod edit -require="k8s.io/kubernetes@$version"
for m in $(awk '/v0\.0\.0$/ && $1 ~ /^k8s\.io\// {print $1}' "$modfile" | sort -u); do
  go mod edit -replace="$m=$m@v0.$minor_patch"
done
go mod tidy
