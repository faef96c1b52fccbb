"""Lessons: every file loads and every Config in it validates; following a lesson's own
steps, trained headless, reaches each step's check; the change a step asks for is what
makes its check pass; each check kind is false where it must be; the classical models
fit the same points and draw what geometry says; the panel ticks and applies steps."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from streamlit.testing.v1 import AppTest

from playground.engine.config.config import Config
from playground.engine.data.own_points import encode_points
from playground.engine.teaching.classical import ClassicalError, fit_classical
from playground.engine.teaching.lesson_checks import CHECKS, Check, check_passed, runs_since
from playground.engine.teaching.lessons import (
    LESSON_DIR,
    LESSONS,
    LessonError,
    lesson_config,
    lesson_params,
    parse_lesson,
)
from playground.engine.teaching.study import race_configs
from playground.engine.train.group import train_epochs
from playground.engine.train.history import HISTORY_KEYS, History
from playground.engine.train.trainer import Trainer
from playground.ui.lesson_panel import (
    REACHED,
    WAITING,
    Progress,
    advance,
    latest_epoch,
    restarts_training,
)

CHUNK = 10  # epochs between looks at the check, as the page looks every second
SEEDS = (0, 1)  # a lesson must not hinge on one lucky initialisation
STEPS = [(lesson.id, i) for lesson in LESSONS.values()
         for i, step in enumerate(lesson.steps) if step.check]
# The change each step teaches: with these settings instead, its check must stay false
# for the step's whole bound (the linear net stays stuck, the small rate never diverges).
TEACHES = [
    ("neuron", 2, {"hidden": "8"}),
    ("neuron", 3, {"hidden": ""}),
    ("nonlinear", 0, {"activation": "tanh"}),
    ("nonlinear", 2, {"activation": "linear"}),
    ("nonlinear", 3, {"activation": "linear"}),
    ("features", 1, {"features": "x1,x2"}),
    ("features", 2, {"hidden": ""}),
    ("learning-rate", 0, {"learning_rate": "0.03"}),
    ("learning-rate", 1, {"learning_rate": "0.0003"}),
    ("learning-rate", 2, {"learning_rate": "0.03"}),
    ("learning-rate", 3, {"learning_rate": "10"}),
    ("not-converging", 0, {"learning_rate": "0.03"}),
    ("not-converging", 1, {"hidden": "4,2"}),
    ("not-converging", 2, {"activation": "tanh"}),
    ("not-converging", 3, {"activation": "sigmoid"}),
    ("activations", 0, {"activation": "sigmoid"}),
    ("overfitting", 1, {"regularization": "none", "reg_rate": "0"}),
    ("overfitting", 2, {"regularization": "none", "reg_rate": "0"}),
    ("overfitting", 3, {"dropout": "0"}),
    ("overfitting", 5, {"n_points": "60"}),
    ("optimizers", 0, {"optimizer": "sgd"}),
    ("optimizers", 1, {"learning_rate": "0.01"}),
]


def members(lesson, params: dict[str, str], seed: int = 0) -> list[Config]:
    """The runs of a step as the page has them: the race's members, or one network (also
    when the settings pin the knob the race varies)."""
    config, warnings = Config.from_params(params)
    assert not warnings
    config = config.replace(init_seed=seed, data_seed=seed)
    knob = lesson.race.partition(":")[0] if lesson.race else None
    return race_configs(config, lesson.race) if knob and knob not in params else [config]


def first_pass(configs: list[Config], check: Check) -> int | None:
    """Train every run in lockstep chunks up to the check's bound; the epoch at which the
    check first held, or None. (A check of one race member needs only that member.)"""
    if check.member is not None and len(configs) > 1:
        configs = configs[check.member:check.member + 1]
    trainers = [Trainer(c) for c in configs]
    while active := [t for t in trainers if t.epoch < check.within and not t.stopped]:
        for t in active:
            train_epochs(t, min(CHUNK, check.within - t.epoch))
        if check_passed(check, [(t.history, t.stopped) for t in trainers]):
            return max(t.epoch for t in trainers)
    return None


# -- the files ---------------------------------------------------------------------------------
def test_every_lesson_file_loads_with_its_text_and_a_check():
    files = sorted(LESSON_DIR.glob("*.toml"))
    assert len(LESSONS) == len(files) >= 9
    assert [lesson.number for lesson in LESSONS.values()] == sorted(
        lesson.number for lesson in LESSONS.values())
    for lesson in LESSONS.values():
        assert lesson.title and 2 <= len(lesson.paragraphs) <= 3
        assert any(step.check for step in lesson.steps), lesson.id
        assert all(step.text for step in lesson.steps)
    assert sum(lesson.classical for lesson in LESSONS.values()) == 1


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_every_config_of_a_lesson_validates_without_warnings(lesson_id):
    lesson = LESSONS[lesson_id]
    for step in (None, *range(len(lesson.steps))):
        config, warnings = Config.from_params(lesson_params(lesson, step))
        assert warnings == [] and config == lesson_config(lesson, step)
        config.validate()
        for member in race_configs(config, lesson.race) if lesson.race else []:
            member.validate()


def test_a_step_applies_its_settings_on_top_of_the_earlier_ones():
    lesson = LESSONS["nonlinear"]
    assert lesson_config(lesson).activation == ("linear", "linear")
    deeper = lesson_config(lesson, 1)
    assert deeper.hidden == (8, 8, 8) and deeper.activation == ("linear",) * 3
    assert lesson_config(lesson, 2).activation == ("tanh",) * 3


# -- following the steps reaches the checks ----------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("lesson_id", "step"), STEPS)
def test_following_the_steps_reaches_the_check(lesson_id, step, seed):
    lesson = LESSONS[lesson_id]
    check = lesson.steps[step].check
    reached = first_pass(members(lesson, lesson_params(lesson, step), seed), check)
    assert reached is not None, f"{lesson_id} step {step + 1}: '{check.text}' not reached"


@pytest.mark.parametrize(("lesson_id", "step", "instead"), TEACHES)
def test_without_the_change_the_check_stays_false(lesson_id, step, instead):
    lesson = LESSONS[lesson_id]
    check = lesson.steps[step].check
    params = {**lesson_params(lesson, step), **instead}
    assert first_pass(members(lesson, params), check) is None, f"{lesson_id} step {step + 1}"


def test_a_trainer_that_gives_up_on_infinite_numbers_counts_as_diverged():
    trainer = Trainer(Config(dataset="plane", learning_rate=10.0, n_points=100))
    train_epochs(trainer, 20)
    assert trainer.stopped and check_passed(Check("diverged", ""), [(trainer.history,
                                                                     trainer.stopped)])


# -- each check kind, on hand-made histories ---------------------------------------------------
def history(train_loss, test_loss=None, test_metric=None, grad_norms=None, first_epoch=1):
    """A History whose rows hold these values (missing columns: harmless constants)."""
    n = len(train_loss)
    columns = {"train_loss": train_loss, "test_loss": test_loss or [0.5] * n,
               "test_metric": test_metric or [0.5] * n, "train_metric": [0.5] * n,
               "weight_norms": [(1.0, 1.0)] * n, "grad_norms": grad_norms or [(1.0, 1.0)] * n,
               "epoch": list(range(first_epoch, first_epoch + n))}
    h = History()
    for i in range(n):
        h.append({key: columns[key][i] for key in HISTORY_KEYS})
    return h


def passes(kind, h, stopped=None, **args):
    return check_passed(Check(kind, "", args), [(h, stopped)])


def test_every_check_kind_is_tested_below():
    assert set(CHECKS) == {"metric_at_least", "loss_below", "metric_stays_below",
                           "loss_stays_above", "diverged", "overfitting", "near_best_test_loss",
                           "vanishing_gradients", "stopped_early"}


def test_metric_and_loss_thresholds():
    h = history([0.3] * 5, test_loss=[0.3] * 5, test_metric=[0.9] * 4 + [0.94])
    assert not passes("metric_at_least", h, value=0.95)
    assert passes("metric_at_least", h, value=0.94)
    assert not passes("loss_below", h, value=0.3)  # strictly below
    assert passes("loss_below", h, value=0.31)
    assert not passes("metric_at_least", History(), value=0.0)  # nothing trained yet


def test_stuck_checks_wait_for_their_epochs_and_fail_once_it_learns():
    stuck = history([0.69] * 200, test_metric=[0.55] * 200)
    assert passes("metric_stays_below", stuck, value=0.7, epochs=200)
    assert passes("loss_stays_above", stuck, value=0.6, epochs=200)
    early = history([0.69] * 199, test_metric=[0.55] * 199)
    assert not passes("metric_stays_below", early, value=0.7, epochs=200)
    assert not passes("loss_stays_above", early, value=0.6, epochs=200)
    learnt = history([0.69] * 199 + [0.2], test_metric=[0.55] * 199 + [0.9])
    assert not passes("metric_stays_below", learnt, value=0.7, epochs=200)
    assert not passes("loss_stays_above", learnt, value=0.6, epochs=200)


def test_diverged_needs_a_real_climb_or_the_trainers_word():
    falling = history([1.0 / (1 + e) for e in range(50)])
    assert not passes("diverged", falling)
    tiny_noise = history([0.01] * 20 + [0.001, 0.003])  # tripled, yet 0.002 is noise
    assert not passes("diverged", tiny_noise)
    assert passes("diverged", history([0.5, 0.2, 0.1, 0.6]))
    assert passes("diverged", falling, "Diverged at epoch 7: the loss became infinite.")
    assert not passes("diverged", falling, "Stopped early at epoch 7: no better test loss.")


def test_overfitting_needs_the_test_loss_up_while_the_training_loss_goes_down():
    train = [1.0 - 0.01 * e for e in range(60)]
    test_u = [0.5 - 0.01 * e for e in range(20)] + [0.3 + 0.01 * e for e in range(40)]
    assert passes("overfitting", history(train, test_u), margin=0.2)
    both_falling = [0.8 - 0.01 * e for e in range(60)]
    assert not passes("overfitting", history(train, both_falling), margin=0.2)
    rising_train = history(list(reversed(train)), test_u)  # both worse: not memorising
    assert not passes("overfitting", rising_train, margin=0.2)
    slightly_up = history(train[:22], test_u[:22])  # 0.32 against a best of 0.30
    assert not passes("overfitting", slightly_up, margin=0.2)


def test_near_best_test_loss_waits_and_rejects_a_climbing_test_loss():
    train = [1.0 - 0.005 * e for e in range(150)]
    flat = [0.5 - 0.001 * e for e in range(150)]
    assert passes("near_best_test_loss", history(train, flat), epochs=100, margin=0.1)
    assert not passes("near_best_test_loss", history(train[:99], flat[:99]), epochs=100)
    climbing = [0.5 - 0.002 * e for e in range(50)] + [0.4 + 0.002 * e for e in range(100)]
    assert not passes("near_best_test_loss", history(train, climbing), epochs=100, margin=0.1)


def test_vanishing_gradients_needs_a_stuck_loss_and_a_starved_first_layer():
    starved = [(1e-5, 1e-4, 1e-3)] * 3
    assert passes("vanishing_gradients", history([0.69] * 3, grad_norms=starved))
    # a trained network's gradients shrink as well: a low loss is no symptom
    assert not passes("vanishing_gradients", history([0.01] * 3, grad_norms=starved))
    even = [(1e-3, 1e-3, 1e-3)] * 3
    assert not passes("vanishing_gradients", history([0.69] * 3, grad_norms=even))


def test_stopped_early_is_the_trainers_early_stop_only():
    h = history([0.5] * 3)
    assert passes("stopped_early", h, "Stopped early at epoch 3: no better test loss.")
    assert not passes("stopped_early", h, None)
    assert not passes("stopped_early", h, "Diverged at epoch 3: the loss became infinite.")


def test_a_race_passes_with_any_member_unless_every_one_or_one_member_is_asked():
    good, bad = history([0.1], test_metric=[0.99]), history([0.6], test_metric=[0.6])
    runs = [(bad, None), (good, None)]
    assert check_passed(Check("metric_at_least", "", {"value": 0.95}), runs)
    assert not check_passed(Check("metric_at_least", "", {"value": 0.95}, every=True), runs)
    assert not check_passed(Check("metric_at_least", "", {"value": 0.95}, member=0), runs)
    assert check_passed(Check("metric_at_least", "", {"value": 0.95}, member=1), runs)
    assert not check_passed(Check("metric_at_least", "", {"value": 0.0}), [])


def test_runs_since_keeps_a_steps_epochs_or_a_restarted_run_whole():
    h = history([0.5] * 100)
    (part, _), = runs_since([(h, None)], 60)
    assert part.epoch == list(range(60, 101)) and part.last == h.last
    (whole, _), = runs_since([(history([0.5] * 30), None)], 60)  # a new run: behind
    assert len(whole) == 30


# -- the panel's order of checks ---------------------------------------------------------------
def test_the_panel_watches_one_check_at_a_time_once_its_settings_are_in_effect():
    lesson = LESSONS["nonlinear"]
    stuck = [(history([0.69] * 200, test_metric=[0.55] * 200), None)]
    progress = Progress(lesson.id)
    advance(lesson, progress, stuck, lesson_config(lesson))
    assert progress.reached == {0}  # step 2 waits for its deeper network
    advance(lesson, progress, stuck, lesson_config(lesson, 1))
    assert progress.reached == {0}  # watched from epoch 200 on: nothing new yet
    more = [(history([0.69] * 400, test_metric=[0.55] * 400), None)]
    advance(lesson, progress, more, lesson_config(lesson, 1))
    assert progress.reached == {0, 1}
    advance(lesson, progress, more, lesson_config(lesson, 2))
    assert progress.reached == {0, 1}  # tanh's check is not met by a linear curve


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_a_learner_pressing_do_it_after_each_green_check_finishes_the_lesson(lesson_id):
    """One session as the page runs it: changes go to the running trainers (a restart
    only where the settings or the step's ``reset`` ask for one), and the panel's own
    bookkeeping decides when each check turns green."""
    lesson = LESSONS[lesson_id]
    config = lesson_config(lesson)
    race = (lambda c: race_configs(c, lesson.race)) if lesson.race else (lambda c: [c])
    trainers = [Trainer(c) for c in race(config)]
    progress = Progress(lesson.id)
    for index, step in enumerate(lesson.steps):
        runs = [(t.history, t.stopped) for t in trainers]
        if step.set or step.reset:  # "Do it", as lesson_panel's button does it
            progress.done.add(index)
            restart = step.reset or restarts_training(step)
            progress.since[index] = 0 if restart else latest_epoch(runs)
            config = Config.from_params({**config.to_params(), **step.set})[0]
            for trainer, member in zip(trainers, race(config)):
                trainer.apply_config(member)
                if step.reset:
                    trainer.reset()
        if step.check is None:
            continue
        for _ in range(0, step.check.within, CHUNK):
            for trainer in trainers:
                train_epochs(trainer, CHUNK)
            advance(lesson, progress, [(t.history, t.stopped) for t in trainers], config)
            if index in progress.reached:
                break
        assert index in progress.reached, f"{lesson_id} step {index + 1}: {step.check.text}"


# -- loading errors ----------------------------------------------------------------------------
GOOD = """title = "T"
paragraphs = ["a", "b"]
[params]
dataset = "circle"
[[steps]]
text = "Press play."
check = {CHECK}
"""


@pytest.mark.parametrize(("check", "why"), [
    ('{ kind = "metric_at_least", value = 0.9, text = "ok" }', None),
    ('{ kind = "accuracy", value = 0.9, text = "x" }', "unknown check kind"),
    ('{ kind = "metric_at_least", valeu = 0.9, text = "x" }', "does not take"),
    ('{ kind = "metric_at_least", value = 0.9 }', "needs a kind and a text"),
    ('{ kind = "metric_stays_below", value = 0.7, epochs = 500, within = 100, text = "x" }',
     "within"),
    ('{ kind = "metric_at_least", value = 0.9, member = "adam", text = "x" }', "race"),
])
def test_a_broken_lesson_file_is_named_in_one_sentence(tmp_path, check, why):
    path = tmp_path / "01-demo.toml"
    path.write_text(GOOD.replace("{CHECK}", check), encoding="utf-8")
    if why is None:
        assert parse_lesson(path).id == "demo"
        return
    with pytest.raises(LessonError, match=why) as error:
        parse_lesson(path)
    assert "01-demo.toml" in str(error.value)


def test_a_lesson_with_a_bad_setting_is_refused(tmp_path):
    path = tmp_path / "02-bad.toml"
    text = GOOD.replace("{CHECK}", '{ kind = "diverged", text = "x" }')
    path.write_text(text.replace('dataset = "circle"', 'dataset = "nowhere"'), encoding="utf-8")
    with pytest.raises(LessonError, match="02-bad.toml, the start: Ignored dataset"):
        parse_lesson(path)
    (tmp_path / "lesson.toml").write_text(text, encoding="utf-8")
    with pytest.raises(LessonError, match="NN-<id>"):
        parse_lesson(tmp_path / "lesson.toml")


# -- the classical models ----------------------------------------------------------------------
def fits(config: Config) -> dict:
    return {fit.name: fit for fit in fit_classical(config)}


def test_a_line_cannot_hold_a_circle_and_a_polynomial_can():
    circle = fits(Config(dataset="circle"))
    assert circle["logistic"].test_accuracy < 0.7
    assert circle["polynomial"].test_accuracy >= 0.95
    inside = circle["polynomial"].probabilities[1]  # class 1 = inside the circle
    middle, corner = inside[50, 50], inside[0, 0]  # (0, 0) and (-6, -6)
    assert middle > 0.9 and corner < 0.1
    assert np.allclose(circle["logistic"].probabilities.sum(axis=0), 1.0)


def test_on_the_spiral_neither_classical_model_reaches_the_networks_95_percent():
    assert all(fit.test_accuracy < 0.8 for fit in fits(Config(dataset="spiral")).values())


def test_the_classical_models_see_the_trainers_own_split():
    config = Config(dataset="moons", noise=20, data_seed=3)
    data = Trainer(config).dataset
    scale = StandardScaler().fit(data.x_train)
    reference = LogisticRegression(max_iter=5000).fit(scale.transform(data.x_train),
                                                      data.y_train)
    expected = reference.score(scale.transform(data.x_test), data.y_test)
    assert fits(config)["logistic"].test_accuracy == pytest.approx(expected)


def test_three_classes_give_three_probability_maps():
    blobs = fits(Config(dataset="blobs3"))
    assert blobs["logistic"].probabilities.shape == (3, 100, 100)
    assert blobs["logistic"].test_accuracy >= 0.95


@pytest.mark.parametrize(("config", "why"), [
    (Config(dataset="plane"), "classification data set"),
    (Config.defaults_for("digits"), "64 inputs"),
    (Config(dataset="circle", data=encode_points(np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0],
                                                            [-1.0, 2.0], [0.5, 0.5]]),
                                                  np.zeros(5), "classification")),
     "only one class"),
])
def test_data_the_classical_models_cannot_fit_is_explained(config, why):
    with pytest.raises(ClassicalError, match=why):
        fit_classical(config)


# -- the panel on the page ---------------------------------------------------------------------
def panel_script():
    import streamlit as st

    from playground.engine.teaching.lessons import LESSONS, lesson_config
    from playground.engine.train.history import HISTORY_KEYS, History
    from playground.ui.lesson_panel import classical_section, lesson_panel, lessons_menu

    stuck = History()
    for epoch in range(1, 201):
        stuck.append({key: 0.5 for key in HISTORY_KEYS} | {"epoch": epoch,
                                                          "grad_norms": [1.0, 1.0],
                                                          "weight_norms": [1.0, 1.0]})
    state = st.session_state
    lesson = LESSONS[state.get("lesson", "nonlinear")]
    applied, restarts = state.setdefault("applied", []), state.setdefault("restarts", [])
    lesson_panel(lesson, lambda: [(stuck, None)], applied.append,
                 restart=lambda: restarts.append(lesson.id))
    lessons_menu(state.get("current"), lambda i: state.__setitem__("opened", i))
    if lesson.classical:
        classical_section(lesson_config(lesson))


def test_the_panel_ticks_reached_checks_applies_steps_and_opens_lessons():
    at = AppTest.from_function(panel_script, default_timeout=30)
    at.session_state["current"] = "nonlinear"
    at.run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Why networks need non-linear activations" in text
    assert f"{REACHED} Stuck: test accuracy below 70 %" in text
    assert f"{WAITING} Still stuck below 70 %" in text
    assert at.selectbox(key="lesson_menu").value == "nonlinear"
    at.button(key="lesson_do_nonlinear_1").click().run()
    assert not at.exception, at.exception
    assert at.session_state["applied"] == [{"hidden": "8,8,8"}]
    assert at.session_state["restarts"] == []  # the new network restarts by itself
    at.selectbox(key="lesson_menu").select("features").run()
    assert at.session_state["opened"] == "features"


def test_a_step_that_starts_again_restarts_and_the_classical_lesson_draws_both_models():
    at = AppTest.from_function(panel_script, default_timeout=30)
    at.session_state["lesson"] = "learning-rate"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="lesson_menu").value is None
    at.button(key="lesson_do_learning-rate_3").click().run()
    assert at.session_state["applied"] == [{"learning_rate": "1"}]
    assert at.session_state["restarts"] == ["learning-rate"]
    at.session_state["lesson"] = "classical"
    at.run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Logistic regression: test accuracy" in text
    assert "polynomial features (degree 3): test accuracy **100%**" in text
