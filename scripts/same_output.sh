#!/usr/bin/env bash
# Does a commit change what the project produces? For two git refs, synthesizes every sample environment
# (config/*.yaml except _-prefixed bases) and prints `plan` and `preview` of each, then compares: templates
# with asset hashes masked (a moved file changes no content, but an asset's hash may name its path), plan and
# preview text exactly. Exit 0 identical, 1 different (the diff is printed).
# Usage: scripts/same_output.sh BASE_REF HEAD_REF   (e.g. the commit before a structural move, and the move)
set -euo pipefail
base_ref=${1:?usage: scripts/same_output.sh BASE_REF HEAD_REF}
head_ref=${2:?usage: scripts/same_output.sh BASE_REF HEAD_REF}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'for d in "$work"/src-*; do git -C "$repo" worktree remove --force "$d" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

produce() {  # ref label
  local src="$work/src-$2" out="$work/out-$2"
  git -C "$repo" worktree add --quiet --detach "$src" "$1"
  # The pinned dependencies are the same at both refs of a move; the checkout's own are reused.
  ln -s "$repo/.venv" "$src/.venv"
  ln -s "$repo/node_modules" "$src/node_modules"
  mkdir -p "$out"
  for file in "$src"/config/*.yaml; do
    env=$(basename "$file" .yaml)
    case "$env" in _*) continue ;; esac
    echo "$2: $env" >&2
    (cd "$src" && npx cdk synth --quiet --no-notices -o "$work/cdk-$2-$env" -c env="$env" >/dev/null)
    for template in "$work/cdk-$2-$env"/*.template.json; do
      sed -E 's/[0-9a-f]{64}/<hash>/g' "$template" > "$out/$env.$(basename "$template")"
    done
    (cd "$src" && .venv/bin/python -m redshift_idc plan --env "$env" > "$out/$env.plan.txt" 2>&1 || echo "exit $?" >> "$out/$env.plan.txt")
    (cd "$src" && .venv/bin/python -m redshift_idc preview --env "$env" > "$out/$env.preview.txt" 2>&1 || echo "exit $?" >> "$out/$env.preview.txt")
  done
}

produce "$base_ref" base
produce "$head_ref" head
if diff -r "$work/out-base" "$work/out-head"; then
  echo "same output: $(ls "$work/out-head" | wc -l) files (templates with asset hashes masked, plan and preview text) at $base_ref and $head_ref"
else
  echo "the outputs differ (above)" >&2
  exit 1
fi
