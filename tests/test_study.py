"""Races and sweeps: their URL form, and members that end where each would alone."""

import pytest
import torch

from playground.engine.config.config import Config
from playground.engine.teaching.study import Study, race, split_params, sweep
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer
from playground.server import protocol as p
from playground.server.hosted import Hosted
from playground.server.worker import Worker

BASE = Config(dataset="spiral", n_points=200, hidden=(4, 4), batch_size=20)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    """A batched group sums in another order than one network alone: float32 rounding."""
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def hosted(study: Study, base: Config = BASE) -> tuple[Worker, Hosted]:
    """A study as a worker hosts it (the worker forms its groups and keeps it level)."""
    worker = Worker(None)
    worker.open("s", {"params": base.to_params(), "study": study.to_params()})
    return worker, worker.hosted["s"]


def stepped(study: Study, epochs: int, base: Config = BASE) -> Hosted:
    """A study after a Step of ``epochs`` rounds, trained in the worker's slices."""
    worker, session = hosted(study, base)
    worker.command("s", p.STEP, [epochs])
    while session.training:
        worker.train()
    return session


def alone(config: Config, epochs: int) -> Trainer:
    trainer = Trainer(config)
    train_epochs(trainer, epochs)
    return trainer


@pytest.mark.parametrize("spec", ["optimizer:sgd,momentum,rmsprop,adagrad,adam",
                                  "activation:sigmoid,tanh,relu,gelu",
                                  "learning_rate:0.003,0.03,0.3,3"])
def test_race_members_match_single_runs(spec):
    session = stepped(race(spec), 25)
    for member in session.members:
        reference = alone(member.config, 25)
        assert member.epoch == reference.epoch == 25
        close(member.params, reference.params)
        assert member.history.last["test_loss"] == pytest.approx(
            reference.history.last["test_loss"], rel=1e-5, abs=1e-6)


def test_race_members_start_from_the_same_weights():
    _, session = hosted(race("optimizer:sgd,adam,rmsprop"))
    first = session.members[0].params
    assert all(torch.equal(t.params, first) for t in session.members)


def test_sweep_points_match_single_runs_and_stop_at_their_length():
    study = sweep("learning_rate:0.001..3", 8, 20)
    worker, session = hosted(study)
    worker.command("s", p.PLAY, [])
    while session.playing:
        worker.train()
    assert not session.running_any
    for value, member in zip(study.values, session.members):
        assert member.config.learning_rate == value
        if member.stopped:  # a learning rate of 3 may diverge: it stops where alone it would
            reference = alone(member.config, 20)
            assert reference.stopped and reference.epoch == member.epoch
            continue
        assert member.epoch == 20
        reference = alone(member.config, 20)
        close(member.params, reference.params)
        assert member.history.last["test_loss"] == pytest.approx(
            reference.history.last["test_loss"], rel=1e-5, abs=1e-6)


def test_a_diverging_member_drops_out_and_the_others_go_on():
    regression = Config(dataset="plane", n_points=200, hidden=(4, 4), activation=("relu",))
    calm, wild = stepped(race("learning_rate:0.03,10"), 60, regression).members
    assert wild.stopped and "Diverged" in wild.stopped
    assert calm.epoch == 60 and not calm.stopped


def test_width_sweep_groups_by_shape_and_matches():
    study = sweep("width:1..8", 8, 10)
    assert study.values == tuple(range(1, 9))
    for member in stepped(study, 10).members:
        close(member.params, alone(member.config, 10).params)


def test_state_and_restore_continue_exactly():
    study = race("optimizer:sgd,adam")
    worker, session = hosted(study)
    for _ in range(2):
        worker.command("s", p.STEP, [5])
        while session.training:
            worker.train()
        if session.epoch == 5:
            states = [t.state() for t in session.members]
    again = Worker(None)
    again.open("s", {"params": BASE.to_params(), "study": study.to_params(), "state": states})
    assert [t.epoch for t in again.hosted["s"].members] == [5, 5]
    again.command("s", p.STEP, [5])
    while again.hosted["s"].training:
        again.train()
    for a, b in zip(session.members, again.hosted["s"].members):
        assert torch.equal(a.params, b.params)


def test_url_round_trip_and_split():
    for study in (race("optimizer:sgd,adam,rmsprop"), race("hidden:4;4,4;8,8"),
                  sweep("learning_rate:0.0001..10", 16, 300), sweep("noise:0..50", 11, 50),
                  sweep("batch_size:1..250", 16, 100), sweep("depth:0..6", 16, 100),
                  sweep("learning_rate:0.00012345..0.7", 9, 100)):
        assert Study.from_params(study.to_params()) == (study, None)
    config_part, study_part = split_params({"dataset": "xor", "race": "optimizer:sgd,adam"})
    assert config_part == {"dataset": "xor"} and study_part == {"race": "optimizer:sgd,adam"}


@pytest.mark.parametrize("params, words", [
    ({"race": "optimizer:sgd"}, "2 to 8"),
    ({"race": "optimizer:sgd,nope"}, "optimizer"),
    ({"race": "colour:red,blue"}, "e.g. race=optimizer"),
    ({"race": "show_test:0,1"}, "only changes the picture"),
    ({"race": "learning_rate:0.1,50"}, "at most 10"),
    ({"sweep": "learning_rate:0..10"}, "must go up"),
    ({"sweep": "learning_rate:1..0.1"}, "must go up"),
    ({"sweep": "speed:1..2"}, "choose one of"),
    ({"sweep": "learning_rate:a..b"}, "e.g. sweep="),
    ({"sweep": "learning_rate:0.001..1", "sweep_n": "500"}, "sweep_n"),
    ({"sweep": "learning_rate:0.001..1", "sweep_epochs": "1"}, "sweep_epochs"),
])
def test_bad_studies_are_ignored_with_a_sentence(params, words):
    study, why = Study.from_params(params)
    assert study is None and words in why and why.endswith(".")


def test_a_member_that_breaks_a_limit_is_named():
    from playground.engine.teaching.study import StudyError
    with pytest.raises(StudyError, match="optimizer=nesterov"):
        race("optimizer:sgd,nesterov").configs(BASE.replace(momentum=0.0))


def test_a_round_can_span_time_slices_and_the_members_meet_again():
    """A study of many shapes holds its worker for one group's epoch at a time."""
    worker, session = hosted(sweep("width:1..8", 8, 10))
    worker.command("s", p.PLAY, [])
    worker._form_groups()
    groups = [group for group, _ in worker.groups.values()]
    assert len(groups) == 8
    assert not session.train_level(groups, 0.0)  # a budget of nothing: one group's epoch
    assert sorted(t.epoch for t in session.members) == [0] * 7 + [1]
    worker.command("s", p.PAUSE, [])  # the round is finished before anyone looks closely
    assert [t.epoch for t in session.members] == [1] * 8
    worker.command("s", p.STEP, [3])
    while session.training:
        worker.train()
    assert {t.epoch for t in session.members} == {4}
