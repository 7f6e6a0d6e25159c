"""layers.csv rows as training hands them over: a block of numbers written in one piece,
turned into records, read back, and thinned for the pictures as row by row."""

import numpy as np
import pytest

from nncli.runs.formats import (LAYER_COLUMNS, LAYER_DIGITS, Thinned, layer_records,
                                number_line, number_lines, read_layers)


def layer_block(epochs: int, per_epoch: int) -> np.ndarray:
    """layers.csv rows as training computes them: epoch, layer, then seven statistics (a NaN
    where a cell is empty)."""
    rng = np.random.default_rng(0)
    block = rng.random((epochs * per_epoch, len(LAYER_COLUMNS))) * 10.0 ** rng.integers(
        -12, 12, (epochs * per_epoch, len(LAYER_COLUMNS)))
    block[:, 0] = np.repeat(np.arange(1, epochs + 1), per_epoch)
    block[:, 1] = np.tile(np.arange(1, per_epoch + 1), epochs)
    block[::per_epoch, 7:] = np.nan  # e.g. a linear layer: neither dead nor saturated
    return block


def test_a_block_of_layer_rows_is_written_as_each_row_alone_and_read_back(tmp_path):
    block = layer_block(5, 3)
    text = number_lines(block, LAYER_DIGITS)
    records = layer_records(block)
    assert text == "".join(number_line(r, LAYER_COLUMNS, LAYER_DIGITS) for r in records)
    lines = text.splitlines()
    assert lines[0].startswith("1,1,") and lines[0].endswith(",,") and lines[-1].startswith("5,3,")
    assert records[0]["dead"] is None and records[1]["dead"] == block[1, 7]
    assert type(records[0]["epoch"]) is int and type(records[0]["layer"]) is int
    path = tmp_path / "layers.csv"
    path.write_text(",".join(LAYER_COLUMNS) + "\n" + text)
    back = read_layers(path)
    assert [(r["epoch"], r["layer"]) for r in back] == [(r["epoch"], r["layer"]) for r in records]
    for got, want in zip(back, records):  # to LAYER_DIGITS significant digits
        for c in LAYER_COLUMNS[2:]:
            assert got[c] == (None if want[c] is None else pytest.approx(want[c], rel=1e-9))
    # read back and written again, a row keeps its text (a resumed run's rows)
    assert "".join(number_line(r, LAYER_COLUMNS, LAYER_DIGITS) for r in back) == text


@pytest.mark.parametrize("blocks", [[3000], [64] * 47, [1, 999, 2000]])
def test_thinning_a_block_keeps_the_rows_thinning_row_by_row_keeps(blocks):
    """Over the cap (4096 rows, two an epoch) the stride doubles inside a block."""
    block = layer_block(sum(blocks), 2)
    by_row, by_block = Thinned(), Thinned()
    for record in layer_records(block):
        by_row.add(record)
    start = 0
    for epochs in blocks:
        by_block.add_block(block[start * 2:(start + epochs) * 2], 2)
        start += epochs
    assert by_block.stride == by_row.stride > 1
    assert by_block.history() == by_row.history()
    assert by_block.last == by_row.last
