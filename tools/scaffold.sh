#!/usr/bin/env bash
# Creates a new Nx project folder shaped like the others: tools/scaffold.sh libs/foo foo '"type:lib", "kind:pure"'
set -euo pipefail
dir=$1 name=$2 tags=$3
cd "$(dirname "$0")/.."
[ -e "$dir" ] && { echo "$dir exists" >&2; exit 1; }
kind=library; [[ $dir == apps/* ]] && kind=application
mkdir -p "$dir/src"
cp libs/topology/vitest.config.ts libs/topology/tsconfig.json libs/topology/tsconfig.build.json "$dir/"
sed "s#@conveyor/topology#@conveyor/$name#" libs/topology/package.json > "$dir/package.json"
sed -e "s#\"name\": \"topology\"#\"name\": \"$name\"#" -e "s#libs/topology/src#$dir/src#" \
    -e "s#\"tags\": \[.*\]#\"tags\": [$tags]#" -e "s#\"projectType\": \"library\"#\"projectType\": \"$kind\"#" \
    libs/topology/project.json > "$dir/project.json"
echo "export {}" > "$dir/src/index.ts"
echo "created $dir; run npm install to link it"
