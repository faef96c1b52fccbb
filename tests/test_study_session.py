"""Races and sweeps in the trainer pool: one session, many members, one stream."""

import json
from multiprocessing import Pipe

import pytest
import torch

from playground.engine.config.config import Config
from playground.engine.config.limits import Limits
from playground.engine.teaching.study import race, sweep
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer
from playground.server import pool as pool_module
from playground.server import protocol as p
from playground.server import session as session_module
from playground.server.hosted import Hosted
from playground.server.live import StreamState, next_message
from playground.server.pool import Pool
from playground.server.session import ServerBusy, start_session
from playground.server.worker import Worker

BASE = Config(dataset="xor", n_points=100, hidden=(3,))
TIMEOUT = 30.0


@pytest.fixture
def pool(monkeypatch):
    monkeypatch.setattr(session_module, "_janitor", object())
    made = Pool(1, use_process=False)
    monkeypatch.setattr(pool_module, "_pool", made)
    yield made
    for session in session_module.active_sessions():
        session.close()
    made.close()


def test_a_race_trains_its_members_in_lockstep_and_streams_them(pool):
    study = race("optimizer:sgd,adam,rmsprop")
    session = start_session(BASE, study=study)
    session.wait_for(lambda s: session.version > 0, TIMEOUT)
    session.play()
    session.wait_for(lambda s: s["epoch"] > 30, TIMEOUT)
    session.pause()
    snap = session.wait_for(lambda s: not s["playing"], TIMEOUT)
    epochs = {m.summary["epoch"] for m in session.members}
    assert epochs == {snap["epoch"]}  # lockstep: every member at the same epoch
    assert all(m.picture["boundary"]["w"] == 100 for m in session.members)
    assert [m.summary["config"].get("optimizer", "sgd") for m in session.members] == [
        "sgd", "adam", "rmsprop"]
    message = p.decode_stream(next_message(session, StreamState()))
    assert len(message["members"]) == 3
    assert all(m["points"]["train"] and m["picture"] for m in message["members"])
    assert all(m["history"]["epoch"][-1] == snap["epoch"] for m in message["members"])
    # each member is where it would be alone after as many epochs
    for member, config in zip(session.members, study.configs(BASE)):
        alone = Trainer(config)
        train_epochs(alone, snap["epoch"])
        assert member.summary["last"]["train_loss"] == pytest.approx(
            alone.history.last["train_loss"], rel=1e-4, abs=1e-6)
    # a page that is up to date gets each member's picture and points only when they change
    sent = StreamState()
    next_message(session, sent)
    session.step()
    session.wait_for(lambda s: s["epoch"] == snap["epoch"] + 1, TIMEOUT)
    later = p.decode_stream(next_message(session, sent))
    assert all("points" not in m and m["picture"] for m in later["members"])
    assert all(m["history"]["epoch"] == [snap["epoch"] + 1] for m in later["members"])


def test_a_sweep_stops_at_its_length_with_every_point(pool):
    study = sweep("learning_rate:0.001..1", 8, 40)
    session = start_session(BASE, study=study)
    session.play()
    snap = session.wait_for(lambda s: s.get("done"), TIMEOUT)
    assert snap["epoch"] == 40 and not snap["playing"]
    finals = [m.summary["last"]["test_loss"] for m in session.members]
    assert len(finals) == 8 and all(f is not None for f in finals)
    session.restart()
    session.wait_for(lambda s: s["epoch"] == 0, TIMEOUT)


def test_a_study_counts_as_its_members_against_the_cap(pool):
    limits = Limits(max_sessions=5)
    start_session(BASE, limits=limits)
    with pytest.raises(ServerBusy):
        start_session(BASE, limits, study=race("optimizer:sgd,adam,rmsprop,adagrad,momentum"))
    start_session(BASE, study=race("optimizer:sgd,adam,rmsprop,adagrad"), limits=limits)


def test_a_killed_worker_resumes_the_study_from_its_snapshot():
    """The study's open spec carries every member's snapshot: a new worker goes on."""
    study = race("optimizer:sgd,adam")
    worker = Worker(None)
    worker.open("s", {"params": BASE.to_params(), "study": study.to_params()})
    host = worker.hosted["s"]
    worker.command("s", p.STEP, [12])
    while host.training:
        worker.train()
    state = host.frame(None, 0.0, 0.1)["state"]
    again = Hosted.open({"params": BASE.to_params(), "study": study.to_params(),
                         "state": state})
    assert [t.epoch for t in again.members] == [12, 12]
    for a, b in zip(host.members, again.members):
        assert torch.equal(a.params, b.params)


def test_a_bad_study_spec_fails_only_its_session(capsys):
    here, there = Pipe()
    worker = Worker(there)
    here.send_bytes(json.dumps(["s1", [["open", [{"params": {}, "study": {"race": "x"}}]]]])
                    .encode())
    worker.receive()
    frames = p.unpack_frames(here.recv_bytes())["frames"]
    assert frames == [["s1", {"error": "The trainer hit an internal error (ValueError)."}]]
    assert "s1" not in worker.hosted
    # the worker goes on serving others
    here.send_bytes(json.dumps(["s2", [["open", [{"params": BASE.to_params()}]]]]).encode())
    worker.receive()
    assert "s2" in worker.hosted


def test_a_race_keeps_to_its_narrating_speed():
    """A lesson's race at 20 epochs a second must not end in a second (as one network)."""
    import time

    study = race("optimizer:sgd,adam")
    worker = Worker(None)
    worker.open("s", {"params": BASE.replace(speed=20.0).to_params(),
                      "study": study.to_params()})
    host = worker.hosted["s"]
    worker.command("s", p.PLAY, [])
    start = time.perf_counter()
    while time.perf_counter() - start < 0.5:
        worker.train()
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    assert 1 <= host.epoch <= 20 * elapsed + 1
