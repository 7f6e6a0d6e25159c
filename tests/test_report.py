"""report.html: one self-contained page per run (written with the pictures), `nncli report` for
several runs or a sweep's folder, and the page opened in real headless Chromium."""

import io
import re
import shutil

import pytest
from PIL import Image

from conftest import CONFIGS, Cli, noisy_xor, write_config

from browser import find_chromium, inspect

from nncli.insight.report import expand


@pytest.fixture(scope="module")
def xor_runs(tmp_path_factory):
    """Two small runs trained by `nncli train` (pictures and report on), differing in the
    learning rate."""
    base = tmp_path_factory.mktemp("report")
    config = write_config(base, noisy_xor(epochs=30, name="xr"))
    cli = Cli(base / "runs")
    for lr in ("0.5", "0.1"):
        r = cli.train(config, "--set", f"training.learning_rate={lr}", plots=True)
        assert r.exit_code == 0, r.output
    return cli.run_dirs()


def images(page: str) -> dict[str, bytes]:
    import base64
    found = re.findall(r"<img src='data:image/(png|gif);base64,([^']+)' alt='[^']*' "
                       r"data-name='([^']+)'>", page)
    return {name: base64.b64decode(data) for kind, data, name in found}


def test_every_run_gets_a_self_contained_report(xor_runs):
    run = xor_runs[0]
    page = (run / "report.html").read_text()
    # inline: no URL the browser would fetch (only data: URIs), no script
    assert not re.search(r"(src|href)=['\"](?!data:|#)", page)
    assert "<script" not in page
    pictures = images(page)
    assert set(pictures) == {"loss.png", "boundary.gif", "decision_boundary.png", "units.png",
                             "network.png", "layers.png"}
    for name, data in pictures.items():
        assert data == (run / name).read_bytes(), name  # the run's own pictures
    assert "<h2>Doctor</h2>" in page and ("no problems found" in page or "finding" in page)
    assert "layers.csv" in page and "history.csv" in page  # the data, as download links
    assert "learning_rate: 0.5" in page  # the config
    assert ">accuracy<" in page


def test_report_in_headless_chromium(xor_runs, tmp_path):
    """No console message or error, every image decoded at its size, and a screenshot that is
    not blank."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("no chromium (.ci/run installs Debian's chromium package)")
    page = tmp_path / "compare.html"
    r = Cli(tmp_path)("report", *xor_runs, "--out", page)
    assert r.exit_code == 0, r.output
    seen = inspect(page, binary)
    assert seen["console"] == [] and seen["errors"] == []
    assert len(seen["images"]) == 1 + 2 * 6  # the comparison, then each run's six
    assert all(i["complete"] and i["width"] > 100 and i["height"] > 100
               for i in seen["images"]), seen["images"]
    shot = Image.open(io.BytesIO(seen["screenshot"])).convert("RGB")
    assert shot.width == 1280 and shot.height > 600
    colours = shot.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, tables and pictures: many colours, not a blank page
    assert max(count for count, _ in colours) < 0.9 * shot.width * shot.height


def test_report_of_several_runs_compares_them(xor_runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = Cli(tmp_path)("report", *xor_runs)
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{tmp_path / 'report.html'}\n"
    page = (tmp_path / "report.html").read_text()
    assert "<h1>2 runs</h1>" in page
    assert "lr=0.5" in page and "lr=0.1" in page  # labelled by what differs
    for run in xor_runs:
        assert f"id='run-{run.name}'" in page


def test_a_sweep_folder_is_every_run_in_it(xor_runs, tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    for run in xor_runs:
        shutil.copytree(run, folder / run.name)
    (folder / "summary.csv").write_text("point,status\n")
    assert expand([folder]) == sorted(folder / run.name for run in xor_runs)


@pytest.mark.parametrize("args,message", [
    (["{tmp}/missing"], "{tmp}/missing: no such run directory"),
    (["{tmp}"], "{tmp}: not a run directory, and no run directories inside"),
    (["{run}", "--out", "{tmp}/r.txt"], "--out {tmp}/r.txt: a report is an .html file"),
    (["{run}", "{run}", "--label", "a"], "--label: 1 labels for 2 runs; give one per run"),
])
def test_report_refuses_bad_input(xor_runs, tmp_path, args, message):
    fill = {"tmp": str(tmp_path), "run": str(xor_runs[0])}
    r = Cli(tmp_path)("report", *[a.format(**fill) for a in args])
    assert r.exit_code == 2, r.output
    assert r.stderr == f"error: {message.format(**fill)}\n"


def test_no_plots_means_no_report(tmp_path):
    cli = Cli(tmp_path / "runs")
    r = cli.train(CONFIGS / "xor-mlp.yaml", "--set", "training.epochs=3")
    assert r.exit_code == 0
    (run,) = cli.run_dirs()
    assert not (run / "report.html").exists()
    r = cli("report", run)
    assert r.exit_code == 0 and r.stdout == f"{run / 'report.html'}\n"
    assert "no pictures" in (run / "report.html").read_text()


def test_default_names_in_the_current_folder_never_replace_a_file(xor_runs, tmp_path,
                                                                   monkeypatch):
    """A file the user has under a default name stays; --out replaces what it names."""
    monkeypatch.chdir(tmp_path)
    for name in ("report.html", "loss-comparison.png"):
        (tmp_path / name).write_text("mine")
    cli = Cli(tmp_path)
    r = cli("report", *xor_runs)
    assert r.exit_code == 0 and r.stdout == f"{tmp_path / 'report-2.html'}\n"
    r = cli("plot", *xor_runs)
    assert r.exit_code == 0 and r.stdout == f"{tmp_path / 'loss-comparison-2.png'}\n"
    assert (tmp_path / "report.html").read_text() == "mine"
    assert (tmp_path / "loss-comparison.png").read_text() == "mine"
    r = cli("report", *xor_runs, "--out", tmp_path / "report.html")
    assert r.exit_code == 0 and (tmp_path / "report.html").read_text().startswith("<!DOCTYPE")
