#!/bin/bash
# Downloads scripts/gpu/wheels.txt as Python 3.12 x86-64 wheels into .whl/
# (ignored by git), for the GPU machine, which cannot reach the package index.
#   bash scripts/gpu/fetch_wheels.sh && ls .whl
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> "$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p .whl
grep -v '^#' scripts/gpu/wheels.txt | while read -r spec; do
  [ -n "$spec" ] || continue
  target=(--python-version 3.12 --implementation cp
          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
          --platform manylinux1_x86_64)
  # A pure-Python package with no wheel (promise) comes as its source.
  python3 -m pip download -q --no-deps --only-binary=:all: "${target[@]}" \
      -d .whl "$spec" 2>/dev/null \
    || python3 -m pip download -q --no-deps "${target[@]}" -d .whl "$spec"
done
du -sh .whl
