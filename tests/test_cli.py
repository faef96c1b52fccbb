"""The command line: trains like the Trainer does, documents every Config field, and
turns a bad value into exit code 2 and one line, not a traceback."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground.cli import main
from playground.engine.config.config import Config
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def test_train_json_matches_the_trainer(capsys):
    assert main(["train", "--dataset", "xor", "--epochs", "50", "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # --quiet: no progress bar
    result = json.loads(out)
    assert result["epoch"] == 50 and result["stopped"] is None
    assert result["metric"] == "accuracy"
    assert result["config"] == {"dataset": "xor"}
    assert result["seconds"] >= 0
    trainer = Trainer(Config(dataset="xor"))  # same config, same seeds: same numbers
    train_epochs(trainer, 50)
    for key in ("train_loss", "test_loss", "train_metric", "test_metric"):
        assert result[key] == pytest.approx(trainer.metrics()[key], rel=1e-6), key
    assert 0.0 <= result["test_metric"] <= 1.0


def test_train_options_reach_the_config(capsys):
    argv = ["train", "--dataset", "plane", "--hidden", "3", "--activation", "relu",
            "--optimizer", "adam", "--learning-rate", "0.01", "--epochs", "3", "--json",
            "--quiet", "--show-test", "yes"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epoch"] == 3 and result["metric"] == "r2"
    assert Config.from_params(result["config"])[0] == Config(
        dataset="plane", hidden=(3,), activation=("relu",), optimizer="adam",
        learning_rate=0.01, show_test=True)


def test_progress_and_text_output(capsys):
    assert main(["train", "--epochs", "4", "--n-points", "40"]) == 0
    out, err = capsys.readouterr()
    assert "4/4" in err and "loss" in err
    lines = dict(map(str.strip, line.split(": ", 1)) for line in out.splitlines())
    assert lines["epoch"] == "4" and lines["metric"] == "accuracy"
    assert float(lines["train_loss"]) > 0 and lines["config"] == "{'n_points': '40'}"


def test_help_lists_every_config_field(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    squeezed = "".join(out.split())  # help text wraps wherever it likes
    for f in dataclasses.fields(Config):
        assert f"--{f.name.replace('_', '-')}" in out, f.name
        assert "".join(f.metadata["help"].split()) in squeezed, f.name
        for choice in f.metadata["choices"] or ():
            assert choice in out
    assert "[0..2147483647]" in out  # the seed's bound exactly, not 2.14748e+09
    for option in ("--epochs", "--json", "--quiet"):
        assert option in out


@pytest.mark.parametrize("argv, field", [
    (["--learning-rate", "99"], "learning_rate"),
    (["--dataset", "mnist"], "dataset"),
    (["--hidden", "4,4,4", "--activation", "relu,tanh"], "activation"),
    (["--features", ""], "features"),
    (["--hidden", "9"], "hidden"),
])
def test_invalid_values_exit_2_naming_the_field(capsys, argv, field):
    assert main(["train", "--epochs", "1", "--quiet", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error:") and field in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_malformed_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--learning-rate", "fast"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--learning-rate" in err and "'fast'" in err and "Traceback" not in err


@pytest.mark.parametrize("epochs", ["-3", "many", "2.5"])
def test_bad_epoch_counts_are_refused(capsys, epochs):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", epochs, "--quiet"])
    assert exit_info.value.code == 2
    assert "--epochs" in capsys.readouterr().err


def test_zero_epochs_reports_the_untrained_network(capsys):
    assert main(["train", "--epochs", "0", "--json", "--quiet", "--n-points", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epoch"] == 0 and result["train_loss"] > 0  # the untrained network's loss


def test_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_python_dash_m_runs():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "playground", "train", "--epochs", "5",
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "epoch: 5" in done.stdout
    assert done.stderr == ""
