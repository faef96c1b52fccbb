"""Exports and imports: a Config survives JSON exactly, weights survive safetensors bit
for bit and a file for another network is refused in one sentence, the history CSV holds
what the History holds, the CLI writes both files, and the page's panel imports."""

import csv
import io
import json
from urllib.parse import parse_qsl

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from streamlit.testing.v1 import AppTest

from playground.cli import main
from playground.engine.config.config import Config
from playground.engine.formats.exports import (
    CONFIG_FORMAT,
    WEIGHTS_FORMAT,
    ImportProblem,
    config_from_json,
    config_json,
    history_csv,
    params_from_state,
    params_from_weights_file,
    share_query,
    weights_file,
)
from playground.engine.nn.model import MLP
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer

CONFIGS = [
    Config(),
    Config.from_values({"dataset": "spiral", "hidden": (8, 8, 8), "activation": ("relu",),
                        "optimizer": "adam", "learning_rate": 0.003, "dropout": (0.1, 0.2, 0.0),
                        "features": ("x1", "x2", "sinx1"), "regularization": "l2",
                        "reg_rate": 0.001, "lr_schedule": "cosine", "hide": ("loss",)}),
    Config.defaults_for("digits").replace(n_points=300, patience=20, validation=20,
                                             show_test=True),
    Config(dataset="plane", tf_math=True, batch_size=1, noise=25, data_seed=123),
    Config(dataset="spiral3", hidden=(), activation=(), dropout=(), init="he"),
]


def trained(config: Config, epochs: int = 3) -> Trainer:
    trainer = Trainer(config)
    train_epochs(trainer, epochs)
    return trainer


def one_sentence(text: str) -> bool:
    return "\n" not in text and text.endswith(".") and "Traceback" not in text


# -- the Config ----------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS)
def test_config_json_round_trip_is_exact(config):
    text = config_json(config)
    document = json.loads(text)
    assert document["format"] == CONFIG_FORMAT and document["version"] == 1
    assert document["config"] == config.to_params()
    assert config_from_json(text) == (config, [])
    assert config_from_json(text.encode("utf-8")) == (config, [])


@pytest.mark.parametrize("config", CONFIGS)
def test_share_query_opens_the_same_config(config):
    query = share_query(config)
    params = dict(parse_qsl(query.removeprefix("?"), keep_blank_values=True))
    assert Config.from_params(params) == (config, [])


def _document(settings: object, **extra: object) -> str:
    return json.dumps({"format": CONFIG_FORMAT, "version": 1, "config": settings, **extra})


@pytest.mark.parametrize(("data", "words"), [
    (b"\xff\xfe\x00bad", "UTF-8"),
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "not a playground config"),
    (json.dumps({"config": {"dataset": "xor"}}), "not a playground config"),
    (json.dumps({"format": "something/else", "version": 1, "config": {}}),
     "not a playground config"),
    (json.dumps({"format": CONFIG_FORMAT, "version": 7, "config": {}}), "version 7"),
    (json.dumps({"format": CONFIG_FORMAT, "config": {}}), "version None"),
    (_document(["dataset", "xor"]), "not a set of named settings"),
    (_document({"dataset": None}), "'dataset' is NoneType"),
    (_document({"hidden": {"layers": 2}}), "'hidden' is dict"),
    (_document({"hidden": [[4], [2]]}), "'hidden' is list"),
])
def test_a_bad_config_file_is_refused_in_one_sentence(data, words):
    with pytest.raises(ImportProblem) as refused:
        config_from_json(data)
    assert words in str(refused.value)
    assert one_sentence(str(refused.value))


def test_unknown_or_invalid_settings_come_back_as_warnings():
    config, warnings = config_from_json(_document(
        {"dataset": "xor", "bogus": "1", "learning_rate": 99, "noise": "lots"}))
    assert config == Config(dataset="xor")
    assert len(warnings) == 3
    for name, warning in zip(("bogus", "learning_rate", "noise"), warnings):
        assert name in warning and one_sentence(warning)


def test_hand_written_numbers_booleans_and_lists_are_read():
    config, warnings = config_from_json(_document(
        {"hidden": [8, 8], "learning_rate": 0.1, "show_test": True, "noise": 10}))
    assert warnings == []
    assert config == Config.from_values({"hidden": (8, 8), "learning_rate": 0.1,
                                         "show_test": True, "noise": 10})


@pytest.mark.parametrize(("settings", "field", "words"), [
    ('"learning_rate": true', "learning_rate", "true is not a number"),
    ('"noise": false', "noise", "false is not a number"),
    ('"hidden": [4, true]', "hidden", "true is not a number"),
    ('"dataset": true', "dataset", "true is not a valid value"),
    ('"n_points": ' + "9" * 5000, "n_points", "5,000 digits"),
    ('"learning_rate": 1e400', "learning_rate", "1e400 is too large"),
    ('"noise": -1e400', "noise", "too large"),
    ('"learning_rate": NaN', "learning_rate", "NaN is not a number"),
    ('"hidden": [8, Infinity]', "hidden", "Infinity is not a number"),
])
def test_booleans_are_not_numbers_and_a_huge_number_is_named(settings, field, words):
    text = f'{{"format": "{CONFIG_FORMAT}", "version": 1, "config": {{"dataset": "xor", ' \
           f'{settings}, "batch_size": 5}}}}'
    if field == "dataset":
        text = text.replace('"dataset": "xor", ', "")
    config, warnings = config_from_json(text)
    assert len(warnings) == 1, warnings
    assert field in warnings[0] and words in warnings[0] and one_sentence(warnings[0])
    # the rest of the file still applies; the named setting keeps its default
    assert config.batch_size == 5 and getattr(config, field) == getattr(
        Config.defaults_for(config.dataset), field)


def test_on_off_settings_still_take_true_false_and_1_0():
    config, warnings = config_from_json(_document({"show_test": True, "discretize": 1}))
    assert warnings == [] and config.show_test and config.discretize


# -- the weights ---------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS)
def test_weights_round_trip_is_exact(config):
    trainer = trained(config)
    data = weights_file(config, trainer.params)
    back = params_from_weights_file(data, config)
    assert back.dtype == torch.float32
    assert torch.equal(back.view(torch.int32), trainer.params.view(torch.int32))  # bit for bit
    # the names and shapes are MLP.state_dict()'s: the file loads into a torch model as is
    model = MLP.from_flat(trainer.layout, config.activation, config.dropout, trainer.params)
    tensors = load_safetensors(data)
    assert tensors.keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensors[name], tensor), name


def test_weights_metadata_holds_the_format_and_the_config():
    config = CONFIGS[1]
    data = weights_file(config, Trainer(config).params)
    # the safetensors header, read by hand: its length (u64, little-endian), then JSON
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    metadata = header.pop("__metadata__")
    assert metadata["format"] == WEIGHTS_FORMAT
    assert json.loads(metadata["config"]) == config.to_params()
    assert {name: entry["dtype"] for name, entry in header.items()} == {
        f"layers.{i}.{kind}": "F32" for i in range(4) for kind in ("weight", "bias")}


@pytest.mark.parametrize(("saved", "loaded", "words"), [
    (Config(hidden=(4, 2)), Config(hidden=(5, 2)),
     "'layers.0.weight' has shape [4, 2] in the file but [5, 2] in this network"),
    (Config(), Config(features=("x1", "x2", "x1sq")),
     "'layers.0.weight' has shape [4, 2] in the file but [4, 3]"),
    (Config(dataset="circle"), Config(dataset="spiral3"),
     "'layers.2.weight' has shape [1, 2] in the file but [3, 2]"),
    (Config(hidden=(4,), activation=("tanh",), dropout=(0.0,)), Config(),
     "has no tensor 'layers.2.weight'"),
    (Config(), Config(hidden=(4,), activation=("tanh",), dropout=(0.0,)),
     "does not have ('layers.2.bias', 'layers.2.weight')"),
])
def test_weights_for_another_network_are_refused(saved, loaded, words):
    data = weights_file(saved, Trainer(saved).params)
    with pytest.raises(ImportProblem) as refused:
        params_from_weights_file(data, loaded)
    message = str(refused.value)
    assert words in message and "another network" in message and one_sentence(message)


def _good_tensors(config: Config) -> dict[str, torch.Tensor]:
    return load_safetensors(weights_file(config, Trainer(config).params))


@pytest.mark.parametrize(("spoil", "words"), [
    (lambda t: {**t, "layers.0.weight": t["layers.0.weight"].double()}, "holds float64 values"),
    (lambda t: {**t, "layers.1.bias": torch.full_like(t["layers.1.bias"], float("nan"))},
     "'layers.1.bias' holds values that are not finite"),
    (lambda t: {**t, "optimizer.step": torch.zeros(1)}, "'optimizer.step'"),
    (lambda t: {**t, "layers.0.weight": torch.full_like(t["layers.0.weight"], 3e38)},
     "'layers.0.weight' holds a value of 3e+38, but imported weights must lie within "
     "±10,000"),
    (lambda t: {**t, "layers.2.bias": -10_001 * torch.ones_like(t["layers.2.bias"])},
     "'layers.2.bias' holds a value of 1e+04"),
])
def test_spoiled_weight_files_are_refused(spoil, words):
    data = save_safetensors(spoil(_good_tensors(Config())))
    with pytest.raises(ImportProblem) as refused:
        params_from_weights_file(data, Config())
    assert words in str(refused.value) and one_sentence(str(refused.value))


def test_large_but_sane_weights_are_taken():
    tensors = _good_tensors(Config())
    tensors["layers.0.weight"] = torch.full_like(tensors["layers.0.weight"], -9_999.5)
    params = params_from_weights_file(save_safetensors(tensors), Config())
    assert params.abs().max().item() == 9_999.5


@pytest.mark.parametrize("data", [b"", b"hello", config_json(Config()).encode(),
                                  b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage"])
def test_a_file_that_is_not_safetensors_is_refused(data):
    with pytest.raises(ImportProblem, match="not a safetensors weights file"):
        params_from_weights_file(data, Config())


def test_state_snapshot_weights_and_loading_them_into_a_trainer():
    config = Config(dataset="xor", optimizer="adam", n_points=100)
    source = trained(config, 5)
    params = params_from_state(source.state(), config)
    assert torch.equal(params, source.params)
    assert params_from_state(source.state(), config.replace(dataset="circle")) is None
    assert params_from_state(None, config) is None
    target = Trainer(config)
    target.load_params(params_from_weights_file(weights_file(config, params), config))
    assert target.epoch == 0 and len(target.history) == 0
    assert target.metrics()["train_loss"] == source.metrics()["train_loss"]
    assert target.metrics()["test_loss"] == source.metrics()["test_loss"]
    with pytest.raises(ValueError, match="do not fit"):
        target.load_params(torch.zeros(3))


# -- the history ---------------------------------------------------------------------------
@pytest.mark.parametrize(("config", "metric"), [(Config(), "accuracy"),
                                                (Config(dataset="plane", hidden=(3,)), "r2")])
def test_history_csv_holds_the_history(config, metric):
    trainer = trained(config, 4)
    history = trainer.history
    rows = list(csv.DictReader(io.StringIO(history_csv(history, metric))))
    layers = len(config.hidden) + 1
    assert list(rows[0]) == (["epoch", "train_loss", "test_loss", f"train_{metric}",
                              f"test_{metric}"] + [f"weight_norm_layer{i}" for i in range(layers)]
                             + [f"grad_norm_layer{i}" for i in range(layers)])
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4]
    for i, row in enumerate(rows):
        assert float(row["train_loss"]) == history.train_loss[i]
        assert float(row[f"test_{metric}"]) == history.test_metric[i]
        assert [float(row[f"weight_norm_layer{k}"]) for k in range(layers)] == list(
            history.weight_norms[i])
        assert [float(row[f"grad_norm_layer{k}"]) for k in range(layers)] == list(
            history.grad_norms[i])
    assert rows[-1]["train_loss"] == repr(trainer.metrics()["train_loss"])


def test_an_empty_history_is_a_header():
    assert history_csv(Trainer(Config(n_points=40)).history, "accuracy").splitlines() == [
        "epoch,train_loss,test_loss,train_accuracy,test_accuracy"]


# -- the command line ----------------------------------------------------------------------
def test_cli_saves_weights_and_exports_a_script(tmp_path, capsys):
    weights, script = tmp_path / "w.safetensors", tmp_path / "run.py"
    assert main(["train", "--dataset", "xor", "--n-points", "60", "--epochs", "7", "--quiet",
                 "--save-weights", str(weights), "--export-script", str(script)]) == 0
    config = Config(dataset="xor", n_points=60)
    reference = trained(config, 7)
    assert torch.equal(params_from_weights_file(weights.read_bytes(), config),
                       reference.params)
    text = script.read_text()
    compile(text, str(script), "exec")  # running it is test_script_export's business
    assert "EPOCHS = 7\n" in text and "dataset=xor" in text
    assert "epoch: 7" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "words"), [
    (["--tf-math", "yes", "--export-script", "{dir}/run.py"], "TF math on"),
    (["--save-weights", "{dir}/missing/w.safetensors"], "folder does not exist"),
    (["--export-script", "{dir}"], "could not write"),
])
def test_cli_export_problems_exit_2_before_training(tmp_path, capsys, argv, words):
    argv = [arg.replace("{dir}", str(tmp_path)) for arg in argv]
    assert main(["train", "--epochs", "3", "--quiet", "--n-points", "40", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error:") and words in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run.py").exists()


# -- the page's panel ----------------------------------------------------------------------
def _panel_app():
    from types import SimpleNamespace

    import streamlit as st

    from playground.engine.config.config import Config
    from playground.engine.train.group import train_epochs
    from playground.engine.train.trainer import Trainer
    from playground.ui.exports_panel import exports_section

    config = st.session_state.get("test_config", Config(dataset="xor", n_points=40))
    epochs = st.session_state.get("test_epochs", 2)
    trainer = Trainer(config)
    train_epochs(trainer, 2)
    view = SimpleNamespace(state=trainer.state(), history=trainer.history)
    session = SimpleNamespace(view=lambda: view, snapshot=lambda: {"epoch": epochs})
    exports_section(config, session,
                    on_config=lambda c: st.session_state.update(imported=c.to_params()),
                    on_weights=lambda p: st.session_state.update(weights=p.tolist()))


@pytest.fixture
def panel():
    at = AppTest.from_function(_panel_app, default_timeout=30)
    at.session_state["exports_open"] = True  # the expander draws its body only when open
    at.run()
    assert not at.exception
    return at


def test_panel_offers_every_export_and_leaves_the_link_to_the_share_section(panel):
    assert not panel.text
    buttons = {button.key: button for button in panel.get("download_button")}
    assert list(buttons) == ["export_config", "export_weights", "export_script",
                             "export_history"]


def test_panel_imports_a_config_and_reports_what_it_ignored(panel):
    data = _document({"dataset": "spiral", "bogus": "1"}).encode()
    panel.get("file_uploader")[0].upload("c.json", data).run()
    assert panel.session_state["imported"] == {"dataset": "spiral"}
    assert [w.value for w in panel.warning] == [r"Ignored unknown setting 'bogus'\."]
    assert len(panel.success) == 1


def test_panel_refuses_bad_weights_and_changes_nothing(panel):
    data = weights_file(Config(hidden=(5,)), Trainer(Config(hidden=(5,))).params)
    panel.get("file_uploader")[1].upload("w.safetensors", data).run()
    assert "weights" not in panel.session_state
    assert len(panel.error) == 1 and "another network" in panel.error[0].value
    config = Config(dataset="xor", n_points=40)
    good = Trainer(config).params
    panel.get("file_uploader")[1].clear().upload("w.safetensors",
                                                 weights_file(config, good)).run()
    assert panel.session_state["weights"] == good.tolist()
    assert config.layout().size == len(good)
    assert config.layout().size == len(good)


def test_panel_says_whether_the_script_reproduces_this_run(panel):
    panel.button(key="export_stability").click().run()
    assert "stable enough to reproduce" in panel.success[0].value
    panel.session_state["test_config"] = Config(optimizer="adam", learning_rate=0.1)
    panel.session_state["test_epochs"] = 50  # the case: Adam at 0.1, 50 epochs
    panel.run()
    panel.button(key="export_stability").click().run()
    assert "too unstable to reproduce" in panel.warning[0].value
    assert "ends epoch 50" in panel.warning[0].value
