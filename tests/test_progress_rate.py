"""The live progress bar's epoch rate counts only the epochs run in this process: a resumed
run's earlier epochs were run before (issue 16: it reported about 5 times the real rate)."""

import pytest

from nncli.cli import progress


@pytest.mark.parametrize("done,expected", [(0, "10.0 ep/s"), (90, "5.0 ep/s")])
def test_the_rate_counts_the_epochs_of_this_process(monkeypatch, done, expected):
    clock = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    with progress.TrainingProgress() as shown:
        shown.live = True  # as on a terminal
        shown.start(100, "run", done=done)
        clock[0] += 2.0 if done else 10.0  # 10 epochs in 2 s, or all 100 in 10 s
        shown.on_epoch({"epoch": 100, "loss": 0.5})
        task = shown._bar.tasks[0]
        assert task.fields["rate"] == expected
        assert task.completed == 100 and task.fields["stats"] == "loss 0.5"
