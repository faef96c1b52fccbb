"""Lessons: every file loads and every Config in it validates; each check needs its step
(left out, the check is not met within its bound; done, it is met), walked as a learner
walks the page; each check kind is false where it must be; questions, answers and
challenges are in every lesson; the classical models fit the same points and draw what
geometry says; the panel ticks, reveals and applies steps."""

import copy

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
    find_lesson,
    lesson_config,
    lesson_params,
    lessons_sentence,
    parse_lesson,
)
from playground.engine.teaching.study import race_configs
from playground.engine.train.group import Group, train_epochs
from playground.engine.train.history import HISTORY_KEYS, History
from playground.engine.train.trainer import Trainer
from playground.ui.lesson_panel import (
    REACHED,
    WAITING,
    Progress,
    advance,
    begin_watch,
    how_long,
    press_do_it,
    watch_checks,
)

CHUNK = 10  # epochs between looks at the checks, as the page looks every second


class Walk:
    """A learner on the page, headless: the lesson's runs (one per race member), trained
    in lockstep, and the panel's own bookkeeping of the checks."""

    def __init__(self, lesson, seed: int = 0) -> None:
        self.lesson, self.progress = lesson, Progress(lesson.id)
        self.config = lesson_config(lesson).replace(init_seed=seed, data_seed=seed)
        self.trainers = [Trainer(c) for c in self.members(self.config)]

    def members(self, config: Config) -> list[Config]:
        return race_configs(config, self.lesson.race) if self.lesson.race else [config]

    @property
    def runs(self):
        """Copies, as the page's session hands them out (a step's "before" must not grow)."""
        return [(t.history.copy(), t.stopped) for t in self.trainers]

    def fork(self) -> "Walk":
        """The same runs and bookkeeping, to try another way from here."""
        other = copy.copy(self)
        other.progress = copy.deepcopy(self.progress)
        other.trainers = []
        for t in self.trainers:
            twin = Trainer(t.config)
            twin.restore(t.state())
            twin.history, twin.stopped = t.history.copy(), t.stopped
            other.trainers.append(twin)
        return other

    def do(self, index: int) -> None:
        """The step as the learner does it: "Do it" (its settings, a restart), then by
        hand what the step asks for."""
        step = self.lesson.steps[index]
        if step.set or step.reset:
            press_do_it(self.progress, index, step, self.runs)
            self.apply(step.set, step.reset)
        self.look(index)
        for edit in step.by_hand:
            for t in self.trainers:
                weights, biases = t.layout.split(t.params)
                now = (weights[edit.layer][edit.to, edit.frm] if edit.kind == "weight"
                       else biases[edit.layer][edit.to])
                t.set_param(edit.kind, edit.layer, edit.to, edit.frm, float(now) * edit.scale)
            self.look(index)

    def skip(self, index: int) -> bool:
        """The step with its idea left out: its ``without`` settings (none by default)
        and its restart, no edits by hand. Whether anything was left out (a step that
        only asks to train is skipped by not training)."""
        step = self.lesson.steps[index]
        if step.without or step.reset:
            press_do_it(self.progress, index, step, self.runs)
            self.apply(step.without or {}, step.reset)
        return bool(step.set or step.reset or step.by_hand)

    def apply(self, changes, reset: bool) -> None:
        """Settings on top of the current ones, to every run (a restart where they or the
        step ask for one), as the page's "Do it" does."""
        self.config = Config.from_params({**self.config.to_params(), **changes})[0]
        for trainer, member in zip(self.trainers, self.members(self.config)):
            trainer.apply_config(member)
            if reset:
                trainer.reset()

    def look(self, index: int | None = None) -> None:
        if index is None:
            advance(self.lesson, self.progress, self.runs, self.config)
        else:  # this step is watched, whether its settings are in effect or not
            begin_watch(self.progress, index, self.runs)
            if watch_checks(self.lesson.steps[index].checks, index, self.progress, self.runs):
                self.progress.reached.add(index)

    def train_until(self, index: int, epochs: int) -> int | None:
        """Train up to ``epochs`` more epochs, looking every CHUNK; the epochs it took
        for the step's checks to be met, or None."""
        for done in range(0, epochs + 1, CHUNK):
            self.look(index)
            if index in self.progress.reached:
                return done
            if done == epochs or all(t.stopped for t in self.trainers):
                return None
            train(self.trainers, min(CHUNK, epochs - done))
        return None


def train(trainers: list[Trainer], epochs: int) -> None:
    """Train each trainer ``epochs`` more epochs (fewer once it stops); same-shaped ones as
    one group, as the server does (a race of optimizers costs about one run)."""
    target = {id(t): t.epoch + epochs for t in trainers}
    while active := [t for t in trainers if not t.stopped and t.epoch < target[id(t)]]:
        shapes: dict[tuple, list[Trainer]] = {}
        for t in active:
            shapes.setdefault(t.group_key, []).append(t)
        for members in shapes.values():
            with Group(members) as group:
                group.run_epochs(min(target[id(m)] - m.epoch for m in members))


def walk_lesson(lesson, seed: int = 0, without: bool = True) -> list[str]:
    """Walk the lesson step by step; before each step with checks, a fork that leaves
    the step out (its settings, its restart and its edits by hand; for a step that only
    asks to train, the training) must not meet them within their bound; then the step,
    done, must meet them. Returns what went wrong, one line per step."""
    walk, problems = Walk(lesson, seed), []
    for index, step in enumerate(lesson.steps):
        if not step.checks:
            walk.do(index)
            continue
        name = f"{lesson.id} step {index + 1} ({step.checks[0].text})"
        if without:
            fork = walk.fork()
            skipped = fork.skip(index)
            if fork.train_until(index, step.within if skipped else 0) is not None:
                problems.append(f"{name}: met without the step")
        walk.do(index)
        if walk.train_until(index, step.within) is None:
            problems.append(f"{name}: not met with the step within {step.within} epochs")
            break
    return problems


# -- the files ---------------------------------------------------------------------------------
def test_every_lesson_file_loads_with_its_text_and_a_check():
    files = sorted(LESSON_DIR.glob("*.toml"))
    assert len(LESSONS) == len(files) >= 14
    assert [lesson.number for lesson in LESSONS.values()] == sorted(
        lesson.number for lesson in LESSONS.values())
    for lesson in LESSONS.values():
        assert lesson.title and 2 <= len(lesson.paragraphs) <= 3
        assert any(step.checks for step in lesson.steps), lesson.id
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


# -- each check needs its step ----------------------------------------------------------------
@pytest.mark.parametrize("lesson_id", LESSONS)
def test_each_check_is_met_with_its_step_and_not_without_step(lesson_id):
    """For each step with checks: the lesson walked with the step left out does not meet
    them within their bound; walked with it, it does (the learner's own page, headless)."""
    assert walk_lesson(LESSONS[lesson_id]) == []


@pytest.mark.parametrize("lesson_id", ["neuron", "learning-rate", "overfitting"])
def test_another_seed_also_meets_every_check(lesson_id):
    """A lesson must not hinge on one lucky start ("rerun with another seed")."""
    assert walk_lesson(LESSONS[lesson_id], seed=1, without=False) == []


def test_a_trainer_that_gives_up_on_infinite_numbers_counts_as_diverged():
    trainer = Trainer(Config(dataset="plane", learning_rate=10.0, n_points=100))
    train_epochs(trainer, 20)
    assert trainer.stopped and check_passed(Check("diverged", ""), [(trainer.history,
                                                                     trainer.stopped)])


# -- each check kind, on hand-made histories ---------------------------------------------------
def history(train_loss, test_loss=None, test_metric=None, grad_norms=None, first_epoch=1,
            val_loss=None, near_zero=None):
    """A History whose rows hold these values (missing columns: harmless constants)."""
    n = len(train_loss)
    columns = {"train_loss": train_loss, "test_loss": test_loss or [0.5] * n,
               "test_metric": test_metric or [0.5] * n, "train_metric": [0.5] * n,
               "val_loss": val_loss or [None] * n, "near_zero": near_zero or [0.0] * n,
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
                           "loss_stays_above", "loss_settled", "diverged", "overfitting",
                           "near_best_test_loss", "vanishing_gradients", "stopped_early",
                           "weights_near_zero", "loss_below_before", "metric_above_before",
                           "metric_below_before",
                           "member_last", "member_best", "member_noisiest"}


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


def test_stopped_early_needs_the_trainers_early_stop_and_the_best_weights_back():
    restored = history([0.5] * 4, val_loss=[0.6, 0.4, 0.5, 0.55])
    restored.last = {**restored.last, "val_loss": 0.4}  # the best epoch's weights
    stop = "Stopped early at epoch 4: the validation loss has not improved for 2 epochs."
    assert passes("stopped_early", restored, stop)
    assert not passes("stopped_early", restored, None)
    assert not passes("stopped_early", restored, "Diverged at epoch 3: the loss became infinite.")
    kept_last = history([0.5] * 4, val_loss=[0.6, 0.4, 0.5, 0.55])  # stopped, not restored
    assert not passes("stopped_early", kept_last, stop)


def test_loss_settled_needs_a_flat_loss_over_its_window():
    flat = history([0.8 - 0.3 * min(e, 100) / 100 for e in range(300)])  # falls, then flat
    assert passes("loss_settled", flat, epochs=300)
    assert not passes("loss_settled", history([0.5] * 299), epochs=300)  # too early
    falling = history([1.0 - 0.002 * e for e in range(300)])
    assert not passes("loss_settled", falling, epochs=300)


def test_weights_near_zero_reads_the_share_of_small_weights():
    assert passes("weights_near_zero", history([0.5] * 3, near_zero=[0.0, 0.2, 0.5]), share=0.3)
    assert not passes("weights_near_zero", history([0.5] * 3, near_zero=[0.5, 0.2, 0.1]),
                      share=0.3)


def test_comparisons_with_the_run_before_the_step_are_at_the_same_epoch():
    before = history([0.5] * 300, test_loss=[0.3 + 0.001 * e for e in range(300)],
                     test_metric=[0.8] * 300)
    cured = history([0.5] * 300, test_loss=[0.3] * 300, test_metric=[0.9] * 300)

    def compare(kind, now, **args):
        return check_passed(Check(kind, "", args), [(now, None)], [(before, None)])

    assert compare("loss_below_before", cured, epochs=200, margin=0.2)  # 0.3 < 0.8 * 0.6
    assert not compare("loss_below_before", cured, epochs=400)  # not yet 400 epochs
    assert not compare("loss_below_before", before)  # the same run is not below itself
    early = history([0.5] * 50, test_loss=[0.3] * 50)
    assert not compare("loss_below_before", early, margin=0.2)  # 0.3 vs 0.8 × 0.35 at epoch 50
    assert compare("metric_above_before", cured, margin=0.05)
    assert not compare("metric_above_before", before)
    assert compare("metric_below_before", before, margin=0.0) is False  # not below itself
    assert check_passed(Check("metric_below_before", "", {"margin": 0.05}), [(before, None)],
                        [(cured, None)])
    # without a run before the step, there is nothing to compare with: not met
    assert not check_passed(Check("loss_below_before", "", {}), [(cured, None)])


def test_race_checks_compare_the_members():
    def run(loss, steps=100):
        return (history([loss + (0.05 if e % 2 else 0.0) * steps / 100 for e in range(100)],
                        test_loss=[loss] * 100), None)

    runs = [run(0.6, 0), run(0.1, 100), run(0.2, 10)]
    assert check_passed(Check("member_last", "", {"epochs": 50}, member=0), runs)
    assert not check_passed(Check("member_last", "", {"epochs": 50}, member=2), runs)
    assert not check_passed(Check("member_last", "", {"epochs": 200}, member=0), runs)
    assert check_passed(Check("member_best", "", {}, member=1), runs)
    assert not check_passed(Check("member_best", "", {}, member=0), runs)
    assert check_passed(Check("member_noisiest", "", {}, member=1), runs)
    assert not check_passed(Check("member_noisiest", "", {}, member=2), runs)


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
def test_the_panel_watches_a_step_once_its_settings_are_in_effect_and_from_then_on():
    lesson = LESSONS["learning-rate"]
    crawling = [(history([0.69] * 300, test_metric=[0.55] * 300), None)]
    progress = Progress(lesson.id)
    advance(lesson, progress, crawling, lesson_config(lesson))
    assert progress.reached == {0}
    longer = [(history([0.69] * 310, test_metric=[0.55] * 310), None)]
    advance(lesson, progress, longer, lesson_config(lesson))
    assert progress.reached == {0}  # the rate is still 0.0003: step 2 is not watched
    assert progress.before[1] == longer  # the run it will be measured against
    advance(lesson, progress, longer, lesson_config(lesson, 1))
    assert progress.since[1] == 310 and progress.reached == {0}  # from epoch 310 on
    solved = [(history([0.69] * 310 + [0.1] * 10, test_metric=[0.55] * 310 + [0.99] * 10),
               None)]
    advance(lesson, progress, solved, lesson_config(lesson, 1))
    assert progress.reached == {0, 1}


def test_a_later_steps_do_it_leaves_the_steps_before_it_behind():
    """Lesson 1's steps 2 and 3 are done by hand; a learner who skips them and presses
    step 4's "Do it" gets step 4 watched, not a check that waits for a typed weight."""
    lesson = LESSONS["neuron"]
    walk = Walk(lesson)
    walk.train_until(0, 100)
    walk.do(3)  # XOR: the accuracy falls, and that must not tick step 2's "fell" check
    assert walk.progress.skipped == {1, 2}
    for _ in range(25):
        train(walk.trainers, 10)
        walk.look()
    assert 3 in walk.progress.reached and (1, 0) not in walk.progress.met


def test_a_page_without_a_trainer_yet_starts_no_watch():
    lesson = LESSONS["backprop"]  # its first check compares with the run before it
    progress = Progress(lesson.id)
    advance(lesson, progress, [], lesson_config(lesson))
    assert progress.since == {} and progress.before == {}
    start = [(history([0.7]), None)]
    advance(lesson, progress, start, lesson_config(lesson))
    assert progress.before[2] == start
    trained = [(history([0.7] + [0.4] * 10), None)]
    advance(lesson, progress, trained, lesson_config(lesson))
    assert progress.reached == {2}


def test_a_then_check_waits_for_the_one_before_it():
    lesson = LESSONS["neuron"]
    walk = Walk(lesson)
    assert walk.train_until(0, 100) is not None
    walk.look(1)
    assert (1, 0) not in walk.progress.met  # nothing fell yet
    walk.do(1)  # the learner flips w1 by hand: the accuracy falls at once
    assert (1, 0) in walk.progress.met and (1, 1) not in walk.progress.met
    assert walk.train_until(1, 100) is not None  # and training brings it back


def test_how_long_a_check_may_take_in_epochs_and_at_a_narrating_speed():
    assert how_long(300, 0.0) == "may take up to 300 epochs"
    assert how_long(300, 10.0) == "may take up to 300 epochs, about 30 s at 10 epochs/s"
    assert how_long(1000, 1.0) == "may take up to 1,000 epochs, about 17 min at 1 epochs/s"


# -- what every lesson holds -------------------------------------------------------------------
def test_every_lesson_asks_a_question_and_ends_with_an_open_challenge():
    assert len(LESSONS) >= 14
    for lesson in LESSONS.values():
        questions = [step.question for step in lesson.steps if step.question]
        assert questions, lesson.id
        for q in questions:
            assert 2 <= len(q.choices) <= 4 and 0 <= q.answer < len(q.choices)
        assert all(step.outcome for step in lesson.steps if step.question), lesson.id
        assert lesson.challenge and lesson.challenge.text, lesson.id


def test_narrated_lessons_and_races_set_a_speed():
    for lesson_id in ("neuron", "activations", "optimizers", "backprop"):
        assert lesson_config(LESSONS[lesson_id]).speed > 0, lesson_id
    for lesson in LESSONS.values():
        if lesson.race:
            assert lesson_config(lesson).speed > 0, lesson.id


def test_no_step_hides_a_control_it_sets():
    controls = {"learning_rate": "learning_rate", "optimizer": "optimizer",
                "activation": "activation", "regularization": "regularization",
                "reg_rate": "regularization", "loss": "loss", "batch_size": "batch",
                "noise": "noise", "dataset": "data"}
    for lesson in LESSONS.values():
        for index, step in enumerate(lesson.steps):
            hidden = lesson_config(lesson, index).hide
            for name in step.set:
                assert controls.get(name) not in hidden, f"{lesson.id} step {index + 1}: {name}"


def test_a_lesson_is_found_by_its_id_or_its_file_name_and_an_unknown_one_lists_them():
    assert find_lesson("neuron") is LESSONS["neuron"]
    assert find_lesson("01-neuron") is LESSONS["neuron"]
    assert find_lesson("01-Neuron.toml") is LESSONS["neuron"]
    assert find_lesson("nonexistent") is None and find_lesson(None) is None
    sentence = lessons_sentence()
    assert sentence.startswith("The lessons are ") and sentence.endswith(".")
    assert all(lesson.id in sentence for lesson in LESSONS.values())


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
    ('{ kind = "member_last", text = "x" }', "name one with member"),
    ('{ kind = "loss_below_before", against = 2, text = "x" }', "against names an earlier"),
    ('{ kind = "metric_at_least", value = 0.9, against = 1, text = "x" }',
     "against names an earlier"),
    ('{ kind = "metric_at_least", value = 0.9, then = true, text = "x" }', "previous one"),
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


@pytest.mark.parametrize(("question", "why"), [
    ('question = "Q?"\nchoices = ["a", "b"]\nanswer = 2\noutcome = "o"', None),
    ('question = "Q?"\nchoices = ["a"]\nanswer = 1', "2 to 4 choices"),
    ('question = "Q?"\nchoices = ["a", "b", "c", "d", "e"]\nanswer = 1', "2 to 4 choices"),
    ('question = "Q?"\nchoices = ["a", "b"]\nanswer = 3', "number of the right choice"),
    ('question = "Q?"\nchoices = ["a", "b"]\nanswer = true', "number of the right choice"),
    ('choices = ["a", "b"]\nanswer = 1', "need a question"),
    ('by_hand = [{ kind = "weight", to = 0 }]', "names its layer"),
    ('by_hand = [{ kind = "neuron", layer = 0, to = 0 }]', "a weight or a bias"),
])
def test_a_questions_choices_and_answer_are_checked_when_the_file_loads(tmp_path, question, why):
    path = tmp_path / "01-demo.toml"
    check = '{ kind = "metric_at_least", value = 0.9, text = "ok" }'
    path.write_text(GOOD.replace("check = {CHECK}", f"check = {check}\n{question}"),
                    encoding="utf-8")
    if why is None:
        step = parse_lesson(path).steps[0]
        assert step.question.answer == 1 and step.outcome == "o"
        return
    with pytest.raises(LessonError, match=why):
        parse_lesson(path)


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


@pytest.mark.parametrize("seed", [0, 1])
def test_on_the_spiral_logistic_regression_fails_and_nearest_neighbours_match_the_network(seed):
    spiral = fits(Config(dataset="spiral", data_seed=seed))
    assert spiral["logistic"].test_accuracy < 0.8 and spiral["polynomial"].test_accuracy < 0.8
    assert spiral["knn"].test_accuracy >= 0.95  # what lesson 9 says: not every model loses


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
    assert f"{WAITING} Test accuracy ≥ 95 %" in text
    assert at.selectbox(key="lesson_menu").value == "nonlinear"
    at.button(key="lesson_do_nonlinear_1").click().run()
    assert not at.exception, at.exception
    assert at.session_state["applied"] == [{"hidden": "8,8,8"}]
    assert at.session_state["restarts"] == []  # the new network restarts by itself
    at.selectbox(key="lesson_menu").select("features").run()
    assert at.session_state["opened"] == "features"


def test_answers_and_outcomes_show_once_the_check_is_met_or_on_show_me():
    at = AppTest.from_function(panel_script, default_timeout=30)
    at.session_state["current"] = "nonlinear"
    at.run()
    first, third = LESSONS["nonlinear"].steps[0], LESSONS["nonlinear"].steps[2]
    infos = " ".join(i.value for i in at.info)
    assert first.outcome in infos  # its check is met: the answer and outcome show
    assert third.outcome not in infos  # not yet met: the answer stays hidden
    radios = {r.key: r for r in at.radio}
    assert radios["lesson_pick_nonlinear_2"].value is None  # the learner picks first
    radios["lesson_pick_nonlinear_2"].set_value(0).run()
    assert "**Answer:**" not in " ".join(m.value for m in at.markdown
                                         if third.question.choices[1] in m.value)
    at.button(key="lesson_show_nonlinear_2").click().run()
    assert third.outcome in " ".join(i.value for i in at.info)
    text = " ".join(m.value for m in at.markdown)
    assert f"not what you predicted. **Answer:** {third.question.choices[1]}" in text
    assert "may take up to 300 epochs" in text  # the current step says how long


def test_a_step_that_starts_again_restarts_and_the_classical_lesson_draws_its_models():
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
    assert "k-nearest neighbours (k = 5): test accuracy" in text


# -- what the lessons say is what their experiments show ---------------------------------------
def test_lesson_1_negating_one_weight_turns_the_line_and_all_three_swap_the_colours():
    walk = Walk(LESSONS["neuron"])
    walk.train_until(0, 100)
    trainer = walk.trainers[0]
    (w1, w2), = trainer.weights()[0].tolist()
    assert abs(w1 - w2) < 0.2 * abs(w1)  # the two weights about equal: hence "about 50 %"
    trainer.set_param("weight", 0, 0, 0, -w1)
    assert 0.35 <= trainer.history.last["test_metric"] <= 0.65  # through both blobs
    trainer.set_param("weight", 0, 0, 1, -w2)
    trainer.set_param("bias", 0, 0, 0, -trainer.biases()[0].item())
    assert trainer.history.last["test_metric"] < 0.05  # the colours swapped
