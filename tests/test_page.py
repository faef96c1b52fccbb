"""The page's controls through Streamlit's AppTest: each control changes the
Config, the URL follows it, and the transport buttons drive the trainer."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from playground.engine.config.config import Config
from playground.server import pool as pool_module
from playground.server.pool import Pool
from playground.server.session import IDLE, ServerBusy, active_sessions

PAGE = str(Path(__file__).parents[1] / "playground" / "ui" / "page.py")


@pytest.fixture
def app(monkeypatch):
    pool = Pool(1, use_process=False)  # the worker in a thread of this process
    monkeypatch.setattr(pool_module, "_pool", pool)
    at = AppTest.from_file(PAGE, default_timeout=30)
    yield at
    for session in active_sessions():
        session.close()
    pool.close()


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
    app.session_state["settings_open"] = True  # "More settings" holds the last two
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


def test_the_session_follows_the_page_config(app):
    run(app)
    session = app.session_state["session"]
    app.selectbox(key="cfg_optimizer").select("adam").run()
    assert session.wait_for(lambda s: s["config"].get("optimizer") == "adam")["epoch"] == 0
    app.selectbox(key="cfg_activation").select("relu").run()
    snap = session.wait_for(lambda s: s["config"].get("activation") == "relu,relu")
    assert snap["generation"] == 1  # a new network starts at epoch 0


def test_the_speed_menu_is_in_the_url_and_reaches_the_session(app):
    run(app)
    session = app.session_state["session"]
    app.selectbox(key="cfg_speed").select(10.0).run()
    assert app.query_params["speed"] == "10.0" and config(app).speed == 10.0
    assert session.wait_for(lambda s: s["config"].get("speed") == "10.0")["epoch"] == 0


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
    at.session_state["session"].close()


def test_a_full_server_says_so_and_keeps_the_settings(app, monkeypatch):
    def full(*args, **kwargs):
        raise ServerBusy("The server is full (2 sessions at once); try again in a few minutes.")

    monkeypatch.setattr("playground.ui.visit.start_session", full)
    run(app, dataset="xor")
    assert "full" in app.error[0].value
    assert config(app).dataset == "xor"
    app.selectbox(key="cfg_optimizer").select("adam").run()  # controls still work
    assert not app.exception and config(app).optimizer == "adam"


def test_a_failed_session_restarts_from_its_last_snapshot(app):
    run(app, dataset="xor")
    session = app.session_state["session"]
    session.step(30)
    session.wait_for(lambda s: bool(session.last_state) and session.last_state[0]["epoch"] == 30)
    session.error = "The trainer hit an internal error (ValueError)."
    app.run()
    assert "internal error" in app.error[0].value
    app.button(key="restart_crashed").click().run()
    fresh = app.session_state["session"]
    assert fresh is not session and session.closed and fresh.error is None
    assert fresh.wait_for(lambda s: s["epoch"] >= 30)["epoch"] == 30


def _closed_idle(app) -> tuple[object, int]:
    """A session that trained 30 epochs, then was closed by the janitor (nobody watched)."""
    run(app, dataset="xor")
    session = app.session_state["session"]
    session.step(30)
    session.wait_for(lambda s: bool(session.last_state) and session.last_state[0]["epoch"] == 30)
    session.close(IDLE)
    return session, 30


def test_an_ended_session_says_why_and_starts_again_from_its_snapshot(app):
    session, epoch = _closed_idle(app)
    app.run()  # the live view's "expired" (session.forget_session), or any other rerun
    assert not app.exception
    assert [w.value for w in app.warning] == [
        "This session was closed after 10 minutes with no page watching it, to free the "
        "server for others."]
    assert "session" not in app.session_state  # no silent fresh start at epoch 0
    button = app.button(key="start_again")
    assert button.label == "Start again from epoch 30"
    button.click().run()
    fresh = app.session_state["session"]
    assert fresh is not session and not app.warning
    assert fresh.wait_for(lambda s: s["epoch"] >= 30)["epoch"] == epoch


def test_an_ended_session_with_new_settings_starts_again_from_them(app):
    _closed_idle(app)
    app.run()
    app.selectbox(key="cfg_optimizer").select("adam").run()  # the snapshot no longer fits
    assert config(app).optimizer == "adam" and app.warning
    app.button(key="start_again").click().run()
    fresh = app.session_state["session"]
    snap = fresh.wait_for(lambda s: s["config"].get("optimizer") == "adam")
    assert snap["epoch"] == 0


def test_url_text_is_shown_as_plain_text_in_one_toast(app):
    run(app, **{"[Session expired: log in](https://ev.il)": "1",
                "![x](http://127.0.0.1:9/x.png)": "1", "noise": "1e9", "bogus": "2"})
    assert len(app.toast) == 1  # four ignored settings, one message
    text = app.toast[0].value
    for name in ("Session expired", "noise", "bogus"):
        assert name in text
    # every markdown character is escaped: no link, no image, no emphasis
    assert "](" not in text and "![" not in text and r"\]\(" in text


def test_every_hideable_part_has_its_selector():
    from playground.engine.config.config import HIDEABLE
    from playground.ui.page_style import HIDE_SELECTORS

    assert set(HIDE_SELECTORS) == set(HIDEABLE)


def test_a_lesson_link_may_use_the_files_name(app):
    run(app, lesson="01-neuron")
    assert app.session_state["lesson"] == "neuron"
    assert config(app).dataset == "gauss"  # the lesson's own start
    assert "lesson=neuron" in "&".join(f"{k}={v}" for k, v in app.query_params.items())


def test_an_unknown_lesson_gets_a_sentence_naming_the_lessons(app):
    from playground.engine.teaching.lessons import LESSONS

    run(app, lesson="nonexistent")
    warning = " ".join(w.value for w in app.warning)
    assert "There is no lesson called “nonexistent”." in warning
    assert all(lesson.id in warning for lesson in LESSONS.values())
    assert app.selectbox(key="lesson_menu").value is None  # the menu at the foot


def test_the_first_screen_says_what_this_is_and_links_the_lessons(app):
    run(app)
    intro = " ".join(m.value for m in app.markdown)
    assert "Neural network playground" in intro and "(?lesson=01-neuron)" in intro
    projector = run(AppTest.from_file(PAGE, default_timeout=30), presenter="1")
    assert "(?lesson=01-neuron)" not in " ".join(m.value for m in projector.markdown)


# the expanders below the live view and the widgets they hold once opened
EXPANDERS = {"settings_open": "number_input", "own_data_open": "file_uploader",
             "compare_open": "radio", "exports_open": "download_button",
             "lessons_open": "selectbox", "share_open": "text"}


def test_closed_expanders_draw_nothing_until_opened(app):
    """A first visit gets the first screen only: the widgets of the closed expanders
    (and the code the browser would fetch for them) come when one is opened."""
    run(app)
    assert len(app.expander) == 8
    assert not app.number_input and not app.get("file_uploader") and not app.radio
    assert not app.get("download_button") and not app.text and not app.toggle
    assert [s.key for s in app.selectbox if s.key == "lesson_menu"] == []
    for key, kind in EXPANDERS.items():
        app.session_state[key] = True
        app.run()
        assert not app.exception, (key, app.exception)
        assert app.get(kind), f"{key} opened shows no {kind}"
        app.session_state[key] = False
        app.run()


def test_a_race_keeps_its_typed_values_while_its_expander_is_closed(app):
    app.session_state["compare_open"] = True
    run(app)
    app.text_input(key="race_values_optimizer").input("sgd,adam").run()
    app.session_state["compare_open"] = False
    app.run()
    assert not app.text_input
    app.session_state["compare_open"] = True
    app.run()
    assert not app.exception and app.text_input(key="race_values_optimizer").value == "sgd,adam"


def test_turning_on_early_stopping_holds_out_validation_points(app):
    app.session_state["settings_open"] = True
    run(app)
    app.number_input(key="cfg_patience").set_value(30).run()
    assert (config(app).patience, config(app).validation) == (30, 20)
    assert "validation" in " ".join(t.value for t in app.toast)
