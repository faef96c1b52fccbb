"""The page's controls through Streamlit's AppTest: each control changes the
Config, the URL follows it, and the transport buttons drive the trainer."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from playground.config import Config
from playground.runner import ServerBusy, active_runners

PAGE = str(Path(__file__).parents[1] / "playground" / "ui" / "page.py")


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_RUNNER", "thread")  # the trainer in a thread of this process
    monkeypatch.setattr("playground.ui.session.USE_PROCESS", False, raising=False)
    at = AppTest.from_file(PAGE, default_timeout=30)
    yield at
    for runner in active_runners():
        runner.close()


def run(at: AppTest, **params: str) -> AppTest:
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def config(at: AppTest) -> Config:
    return at.session_state["config"]


def test_url_params_become_the_config(app):
    run(app, dataset="xor", hidden="8,8,8", activation="relu", learning_rate="0.1")
    assert config(app) == Config.from_values(
        {"dataset": "xor", "hidden": (8, 8, 8), "activation": ("relu",), "learning_rate": 0.1})
    assert app.selectbox(key="cfg_learning_rate").value == 0.1
    assert app.selectbox(key="cfg_activation").value == "relu"


def test_bad_params_fall_back_and_the_page_says_which(app):
    run(app, dataset="nonsense", noise="1e9", bogus="x", hidden="4," * 40)
    assert config(app) == Config()
    notes = " ".join(t.value for t in app.toast)
    for name in ("dataset", "noise", "bogus", "hidden"):
        assert name in notes


@pytest.mark.parametrize(("key", "value", "field", "expected"), [
    ("cfg_learning_rate", 0.3, "learning_rate", 0.3),
    ("cfg_activation", "relu", "activation", ("relu", "relu")),
    ("cfg_regularization", "l2", "regularization", "l2"),
    ("cfg_reg_rate", 0.01, "reg_rate", 0.01),
    ("cfg_optimizer", "adam", "optimizer", "adam"),
    ("cfg_loss", "mse", "loss", "mse"),
    ("cfg_lr_schedule", "cosine", "lr_schedule", "cosine"),
    ("cfg_init", "he", "init", "he"),
])
def test_each_selectbox_changes_its_field_and_the_url(app, key, value, field, expected):
    run(app)
    app.selectbox(key=key).select(value).run()
    assert getattr(config(app), field) == expected
    assert field in app.query_params


@pytest.mark.parametrize(("key", "value", "field"), [
    ("cfg_train_ratio", 70, "train_ratio"), ("cfg_noise", 25, "noise"),
    ("cfg_batch_size", 30, "batch_size"),
])
def test_each_slider_changes_its_field(app, key, value, field):
    run(app)
    app.slider(key=key).set_value(value).run()
    assert getattr(config(app), field) == value


def test_problem_type_switches_to_a_regression_data_set(app):
    run(app)
    app.selectbox(key="task").select("regression").run()
    assert config(app).dataset == "plane" and config(app).task == "regression"


def test_step_advances_and_reset_returns_to_epoch_zero(app):
    run(app)
    runner = app.session_state["runner"]
    app.button(key="step").click().run()
    assert runner.wait_for(lambda s: s["epoch"] == 1)["epoch"] == 1
    app.button(key="step").click().run()
    assert runner.wait_for(lambda s: s["epoch"] == 2)["epoch"] == 2
    app.button(key="restart").click().run()
    assert runner.wait_for(lambda s: s["epoch"] == 0)["epoch"] == 0
    seed = config(app).init_seed
    app.button(key="reset").click().run()
    assert config(app).init_seed == seed + 1
    assert runner.wait_for(lambda s: s["config"].get("init_seed") == str(seed + 1))["epoch"] == 0


def test_play_and_pause(app):
    run(app)
    runner = app.session_state["runner"]
    app.button(key="play").click().run()
    assert runner.wait_for(lambda s: s["epoch"] >= 5)["playing"]
    app.button(key="play").click().run()
    stopped = runner.wait_for(lambda s: not s["playing"])["epoch"]
    assert runner.wait_for(lambda s: not s["playing"])["epoch"] == stopped


def test_regenerate_draws_new_data(app):
    run(app)
    app.button(key="regenerate").click().run()
    assert config(app).data_seed == 1 and app.query_params["data_seed"] == "1"


KEYS = st.one_of(st.sampled_from(sorted(Config.__dataclass_fields__)), st.text(max_size=30))
VALUES = st.one_of(st.text(max_size=200), st.integers().map(str),
                   st.floats().map(str), st.sampled_from(["nan", "inf", "-1e308", "1e999",
                                                          ",,,", "8,8,8,8,8,8,8,8", "x" * 5000]))


@given(params=st.dictionaries(KEYS, VALUES, max_size=6))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_url_gives_a_working_page(app, params):
    at = AppTest.from_file(PAGE, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    at.session_state["config"].validate()
    at.session_state["runner"].close()


def test_a_busy_server_says_so_and_keeps_the_settings(app, monkeypatch):
    def busy(*args, **kwargs):
        raise ServerBusy("The server is busy: every trainer slot is taken. Try again in a minute.")

    monkeypatch.setattr("playground.ui.session.start_runner", busy)
    run(app, dataset="xor")
    assert "busy" in app.error[0].value
    assert config(app).dataset == "xor"
    app.selectbox(key="cfg_optimizer").select("adam").run()  # controls still work
    assert not app.exception and config(app).optimizer == "adam"


def test_a_crashed_trainer_restarts_from_its_last_snapshot(app):
    run(app, dataset="xor")
    runner = app.session_state["runner"]
    app.button(key="play").click().run()
    runner.wait_for(lambda s: s["epoch"] >= 30 and runner.last_state is not None, timeout=10)
    runner.close()
    runner.crashed = "The trainer process stopped unexpectedly."
    saved_epoch = runner.last_state["epoch"]
    app.run()
    assert "stopped unexpectedly" in app.error[0].value
    app.button(key="restart_crashed").click().run()
    fresh = app.session_state["runner"]
    assert fresh is not runner and not fresh.crashed
    assert fresh.wait_for(lambda s: s["epoch"] >= saved_epoch)["epoch"] == saved_epoch
