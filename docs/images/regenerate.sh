#!/bin/sh
# Redraw the pictures of docs/plots.md with nncli itself: train each example, then `nncli plot`.
# Run from the repository root: sh docs/images/regenerate.sh
set -eu
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
for example in blobs moons xor-mlp; do
    nncli train "configs/$example.yaml" --out "$runs/$example" --quiet --no-plots
    run=$(ls -d "$runs/$example"/*)
    for what in loss boundary network; do
        nncli plot "$run" --what "$what" --out "docs/images/$example-$what.png"
    done
done
