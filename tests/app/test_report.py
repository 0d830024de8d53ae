"""The run report: one HTML page that needs nothing outside itself, for our runs and for any
framework's log, rendered by a real browser with the network off."""

import html.parser
import json
import os
import sys
from pathlib import Path

import matplotlib.image
import pytest

from nnfoundations.app import runs
from nnfoundations.app.cli import main
from nnfoundations.app.config import TrainConfig
from nnfoundations.app.report import report

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import browser  # noqa: E402  (docs/browser.py: the README's screenshot is taken with it)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    runs.train_run(TrainConfig(hidden=[16], epochs=6, quiet=True, out=str(out)))
    return out


class Links(html.parser.HTMLParser):
    """Every address a page names: attributes that load or link, and CSS url()s."""

    def __init__(self):
        super().__init__()
        self.addresses = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data", "poster") and value:
                self.addresses.append(value)
            if name == "style" and value and "url(" in value:
                self.addresses.append(value.split("url(", 1)[1].split(")", 1)[0])


def outside(page):
    links = Links()
    links.feed(page)
    return [a for a in links.addresses if not a.startswith("#")]


def test_nnf_train_writes_a_report_with_its_metrics_and_confusion_matrix(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["confusion"]) == 10 and sum(map(sum, metrics["confusion"])) == \
        sum(r["count"] for r in metrics["per_class"])
    for part in ('id="verdict"', 'id="curves"', "<svg", 'id="confusion"', 'id="per-class"',
                 'id="dead-units"', 'id="settings"', f"{metrics['test_accuracy']:.4f}"):
        assert part in page, part
    assert outside(page) == [] and "<script" not in page and "@font-face" not in page


LOGS = ["keras.csv", "trainer_state.json", "lightning", "tensorboard"]


def framework_log(tmp_path, log):
    """A log as each framework writes it by default."""
    path = tmp_path / log
    if log == "keras.csv":
        path.write_text("epoch,loss,val_loss,accuracy,val_accuracy\n" + "".join(
            f"{e},{1 / (e + 1)},{1 / (e + 1) + 0.01 * e * e},0.5,0.6\n" for e in range(30)))
    elif log == "trainer_state.json":
        path.write_text(json.dumps({"log_history": [
            {"epoch": e, "step": 10 * e, **({"loss": 2 / e} if e % 2 else
                                            {"eval_loss": 2.1 / e})} for e in range(1, 41)]}))
    elif log == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter
        with SummaryWriter(str(path)) as writer:
            for e in range(1, 21):
                writer.add_scalar("train/loss", 1 / e, e)
                writer.add_scalar("val/loss", 1 / e + 0.002 * e * e, e)
    else:
        path = ROOT / "examples" / "lightning_metrics.csv"
    return path


@pytest.mark.parametrize("log", LOGS)
def test_any_frameworks_log_gets_a_page_of_what_it_has(tmp_path, capsys, log):
    path = framework_log(tmp_path, log)
    assert main(["report", str(path), "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<svg" in page and 'id="verdict"' in page and 'id="confusion"' not in page
    assert outside(page) == [] and "report written to" in capsys.readouterr().err


def test_names_are_escaped_and_a_bad_destination_is_one_line(tmp_path, capsys):
    log = tmp_path / "<script>alert(1)<script>.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{1 / e},{1.1 / e}\n"
                                                     for e in range(1, 9)))
    page = report(log)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert main(["report", str(log), "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "no").exists()


@pytest.mark.slow
def test_the_report_renders_in_a_real_browser_with_the_network_off(run_dir, tmp_path):
    if browser.chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have a browser: .ci/run installs Debian's chromium")
        pytest.skip("no browser here (apt-get install chromium)")
    shot = tmp_path / "report.png"
    dom = browser.open_page(run_dir / "report.html", screenshot=shot)
    assert 'id="verdict"' in dom and "<svg" in dom and 'id="confusion"' in dom
    assert dom.count("<tr>") >= 10 + 1 + 10  # per class, the test, the confusion rows
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 420) and pixels[..., :3].std() > 0.05  # not blank
    for log in LOGS:  # and each framework's page, as the browser builds it
        report(framework_log(tmp_path, log), tmp_path / f"{log}.html")
        dom = browser.open_page(tmp_path / f"{log}.html")
        assert 'id="verdict"' in dom and "<svg" in dom and 'id="reasons"' in dom, log
