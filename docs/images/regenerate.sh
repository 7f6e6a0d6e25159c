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
# the model as it learns (moons), what XOR's hidden units compute, the layer statistics
nncli plot "$(ls -d "$runs/moons"/*)" --what animation --out docs/images/moons-boundary.gif
nncli plot "$(ls -d "$runs/moons"/*)" --what layers --out docs/images/moons-layers.png
nncli plot "$(ls -d "$runs/xor-mlp"/*)" --what units --out docs/images/xor-mlp-units.png
# a textbook network with its weights written on it (worked example B, after its one step)
nncli train configs/example-b-two-layers.yaml --out "$runs/example-b" --quiet --no-plots
nncli plot "$(ls -d "$runs/example-b"/*)" --what network --out docs/images/example-b-network.png
