"""The terminal loss chart: braille dots worked out by hand, scales, gaps, and the summary."""

from rich.console import Console

from conftest import CONFIGS, Cli

from nncli.cli.sparkline import MIXED, draw, history_columns, loss_chart


def plain(text) -> str:
    console = Console(width=200, color_system=None, record=True)
    console.print(text)
    return console.export_text()


def test_a_falling_line_by_hand():
    # 2 cells x 1 row = 4 x 4 dots; values 3, 2, 1, 0 land on dot columns 0..3, rows 0..3 from
    # the top. Cell 1 holds (0, 0) and (1, 1): bits 0x01 + 0x10 = 0x11 -> U+2811 "⠑";
    # cell 2 holds (2, 2) and (3, 3): 0x04 + 0x80 = 0x84 -> U+2884 "⢄".
    canvas = draw([[3, 2, 1, 0]], width=2, height=1)
    assert canvas.rows == ["⠑⢄"]
    assert (canvas.low, canvas.high, canvas.log) == (0, 3, False)


def test_points_are_joined_by_lines_and_cells_remember_their_series():
    # two epochs on 2 x 4 dots: (0, top) to (1, bottom) joined through every row in between
    # one cell of 2 x 4 dots. Series 0 goes from (0, top) to (1, bottom) in max(1, 3) = 3
    # steps: (0, 0) (0, 1) (1, 2) (1, 3) as (column, row from the top), bits 0x01 + 0x02 +
    # 0x20 + 0x80; series 1 the other way: (0, 3) (0, 2) (1, 1) (1, 0), 0x40 + 0x04 + 0x10 +
    # 0x08. Together: every dot.
    one = draw([[1.0, 0.0]], width=1, height=1)
    assert one.rows == [chr(0x2800 + 0x01 + 0x02 + 0x20 + 0x80)]  # "⢣"
    assert one.owners == [[0]]
    both = draw([[1.0, 0.0], [0.0, 1.0]], width=1, height=1)
    assert both.rows == ["⣿"]
    assert both.owners == [[MIXED]]


def test_log_scale_when_the_values_span_a_decade():
    canvas = draw([[100.0, 10.0, 1.0]], width=2, height=1)
    assert canvas.log and (canvas.low, canvas.high) == (1.0, 100.0)
    # log10: 2, 1, 0 -> dot heights 3, 1.5 -> 2 (half up), 0 at columns 0, 1.5 -> 2, 3.
    # Joined: (0,3) (1,3) (2,2) (3,1) (3,0) as (column, height), that is rows from the top
    # 0, 0, 1, 2, 3: cell 1 = 0x01 + 0x08, cell 2 = 0x02 (left) + 0x20 + 0x80 (right)
    assert canvas.rows == [chr(0x2800 + 0x09) + chr(0x2800 + 0xA2)]
    linear = draw([[3.0, 2.0, 1.0]], width=2, height=1)
    assert not linear.log
    assert not draw([[1.0, 0.0]]).log  # zero has no logarithm


def test_gaps_single_points_and_flat_lines():
    gap = draw([[1.0, None, float("nan"), 0.0]], width=2, height=1)
    # x = 0, 1, 2, 3; only epochs 1 and 4 are drawn, and not joined
    assert gap.rows == [chr(0x2800 + 0x01) + chr(0x2800 + 0x80)]
    # one value (or a flat series) sits at height 4 // 2 = 2, the second row from the top
    single = draw([[0.5]], width=3, height=1)  # one epoch: one dot at the left
    assert single.rows == [chr(0x2800 + 0x02) + "  "]
    flat = draw([[2.0] * 5], width=2, height=1)  # columns 0, 1, 2, 2, 3: a line through all
    assert flat.rows == [chr(0x2800 + 0x02 + 0x10) * 2]
    assert draw([[]], width=2, height=1).rows == ["  "]


def test_many_epochs_keep_the_width():
    values = [1 / (1 + i) for i in range(5000)]
    canvas = draw([values])
    assert len(canvas.rows) == 5 and {len(r) for r in canvas.rows} == {60}
    assert canvas.rows[0][0] != " " and canvas.rows[-1][-1] != " "  # from top-left to bottom-right


def test_loss_chart_text():
    history = history_columns([{"epoch": 1, "loss": 2.0, "val_loss": 3.0},
                               {"epoch": 2, "loss": 0.5, "val_loss": 1.0},
                               {"epoch": 3, "loss": 0.25, "val_loss": None}])
    assert history["val_loss"] == [3.0, 1.0, None]
    lines = plain(loss_chart(history, width=20, height=3)).splitlines()
    assert len(lines) == 3 + 3
    assert lines[0].startswith("   3 ┤") and lines[2].startswith("0.25 ┤")
    assert lines[1].startswith("     │")
    assert lines[3] == "     └" + "─" * 20
    assert lines[4] == "      1" + "epoch".center(18) + "3"
    assert lines[5] == "      ⣀⣀ loss  ⡀⡀ val_loss  (log scale)"
    assert loss_chart({"epoch": [], "loss": []}) is None
    only_train = plain(loss_chart({"loss": [1.0, 0.9]}, width=10, height=2))
    assert "val_loss" not in only_train and "log scale" not in only_train


def test_without_colour_the_validation_curve_is_dotted():
    """NO_COLOR or a log file: the two curves must still look different. A flat line at one
    height: loss sets both dots of every cell (⠒), val_loss every other dot (⠂)."""
    solid = draw([[1.0, 1.0]], width=3, height=1)
    dotted = draw([[1.0] * 2, [1.0] * 2], width=3, height=1, dotted=[1])
    assert solid.rows == ["⠒⠒⠒"]
    half = draw([[], [1.0, 1.0]], width=3, height=1, dotted=[1])
    assert half.rows == ["⠂⠂⠂"]  # dots at x = 0, 2, 4: the left dot of each cell
    assert dotted.rows == ["⠒⠒⠒"] and dotted.owners == [[MIXED] * 3]
    chart = plain(loss_chart({"loss": [2.0, 1.0, 0.5], "val_loss": [2.5, 1.5, 1.0]},
                             width=20, height=3))
    glyphs = {c for c in chart if 0x2800 < ord(c) <= 0x28FF}
    assert "⡀" in chart.splitlines()[-1] and len(glyphs) > 3


def test_colours_tell_the_series_apart():
    chart = loss_chart({"loss": [1.0, 0.5], "val_loss": [1.0, 2.0]}, width=4, height=2)
    styles = {str(span.style) for span in chart.spans}
    assert {"cyan", "magenta"} <= styles


def test_train_summary_ends_with_the_loss_chart(tmp_path):
    cli = Cli(tmp_path / "runs")
    r = cli("train", CONFIGS / "xor-mlp.yaml", "--out", cli.out, "--no-plots",
            "--set", "training.epochs=40")
    assert r.exit_code == 0, r.output
    lines = r.stderr.rstrip().splitlines()
    (run,) = cli.run_dirs()
    rows = (run / "history.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[1]) for row in rows]
    log = max(losses) >= 10 * min(losses)
    # XOR's four rows leave no validation split: one series
    assert lines[-1].strip() == "⣀⣀ loss" + ("  (log scale)" if log else "")
    assert lines[-2].strip() == "1" + "epoch".center(57) + "40"
    top, bottom = lines[-8], lines[-4]
    assert top.split("┤")[0].strip() == f"{max(losses):.4g}"
    assert bottom.split("┤")[0].strip() == f"{min(losses):.4g}"
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in "".join(lines[-8:-3]))
    assert "run directory:" in lines[-9]
