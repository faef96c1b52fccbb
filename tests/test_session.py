"""The pool, its workers and the sessions the page holds: commands do what they say,
same-shaped sessions train as one group and still end where they would alone, a
flood of commands collapses, a killed worker comes back with its sessions, and the
live stream's messages carry only what is new. Waits are for conditions, never
for fixed times."""

import json
import os
import signal
import time
from multiprocessing import Pipe

import psutil
import pytest
import torch

from playground.engine.config.config import Config
from playground.engine.config.limits import Limits
from playground.engine.train.group import Group, train_epochs
from playground.engine.train.trainer import Trainer
from playground.server import pool as pool_module
from playground.server import protocol as p
from playground.server import session as session_module
from playground.server.live import StreamState, next_message
from playground.server.pool import (
    DEAD_AFTER_S,
    MAX_PENDING,
    SUSPECT_AFTER_S,
    Pool,
    queue_command,
)
from playground.server.session import ServerBusy, find_session, start_session, sweep_once
from playground.server.worker import BEAT_S, Worker

CONFIG = Config(dataset="xor", n_points=100, hidden=(3,))
TIMEOUT = 30.0  # for a loaded machine; every wait returns as soon as its condition holds


@pytest.fixture
def pool(monkeypatch):
    """A pool of two workers in threads (a process pool is tested once, below)."""
    monkeypatch.setattr(session_module, "_janitor", object())  # the tests sweep by hand
    made = Pool(2, use_process=False)
    monkeypatch.setattr(pool_module, "_pool", made)
    yield made
    for session in session_module.active_sessions():
        session.close()
    made.close()


def first_frame(session):
    return session.wait_for(
        lambda s: session.version > 0 and session.members[0].picture is not None, TIMEOUT)


def test_play_pause_step(pool):
    session = start_session(CONFIG)
    snap = first_frame(session)
    assert snap["epoch"] == 0 and snap["playing"] is False and snap["crashed"] is None
    session.play()
    snap = session.wait_for(lambda s: s["epoch"] > 20, TIMEOUT)
    assert snap["playing"] is True
    session.pause()
    paused = session.wait_for(lambda s: not s["playing"], TIMEOUT)["epoch"]
    # one step lands exactly one epoch later: nothing trained after the pause frame
    session.step()
    assert session.wait_for(lambda s: s["epoch"] != paused, TIMEOUT)["epoch"] == paused + 1
    session.step(3)
    assert session.wait_for(lambda s: s["epoch"] != paused + 1, TIMEOUT)["epoch"] == paused + 4
    assert session.members[0].history.epoch == list(range(1, paused + 5))


def test_restart_returns_to_the_same_start_and_config_changes(pool):
    session = start_session(CONFIG)
    initial = first_frame(session) and session.members[0].picture["weights"]
    session.step(7)
    session.wait_for(lambda s: s["epoch"] == 7, TIMEOUT)
    assert session.members[0].picture["weights"] != initial
    session.restart()
    snap = session.wait_for(lambda s: s["generation"] == 1, TIMEOUT)
    assert snap["epoch"] == 0 and session.members[0].history.epoch == []
    assert session.members[0].picture["weights"] == initial
    session.step(2)
    session.wait_for(lambda s: s["epoch"] == 2, TIMEOUT)
    session.apply_config(CONFIG.replace(learning_rate=0.3))  # live: keeps the epoch
    snap = session.wait_for(lambda s: s["config"].get("learning_rate") == "0.3", TIMEOUT)
    assert snap["epoch"] == 2 and snap["generation"] == 1
    session.apply_config(CONFIG.replace(hidden=(5, 2), activation=("relu",)))  # a restart
    snap = session.wait_for(lambda s: s["generation"] == 2, TIMEOUT)
    assert snap["epoch"] == 0 and session.members[0].picture["sizes"] == [2, 5, 2, 1]


def test_the_speed_setting_limits_epochs_per_second(pool):
    session = start_session(CONFIG.replace(speed=20.0))
    first_frame(session)
    session.play()
    start = session.wait_for(lambda s: s["epoch"] >= 2, TIMEOUT)["epoch"]
    began = time.monotonic()
    session.wait_for(lambda s: s["epoch"] >= start + 20, TIMEOUT)
    assert time.monotonic() - began >= 0.7  # 20 epochs at 20/s take about a second
    session.apply_config(CONFIG.replace(speed=0.0))  # as fast as possible, still playing
    now = session.wait_for(lambda s: s["config"].get("speed") is None, TIMEOUT)["epoch"]
    began = time.monotonic()
    session.wait_for(lambda s: s["epoch"] >= now + 200, TIMEOUT)
    assert time.monotonic() - began < 0.7 * 10  # far faster than 20/s (200 epochs)


def hosted_worker():
    here, there = Pipe()
    return Worker(there), here


def test_same_shaped_sessions_train_as_one_group_and_end_as_alone():
    worker, _ = hosted_worker()
    configs = {f"s{i}": CONFIG.replace(init_seed=i, data_seed=i, learning_rate=0.01 * (i + 1))
               for i in range(3)}
    configs["other"] = CONFIG.with_hidden((4, 4))
    for sid, config in configs.items():
        worker.open(sid, {"params": config.to_params()})
        worker.command(sid, p.PLAY, [])
    worker.train()
    shapes = sorted(len(group.members) for group, _ in worker.groups.values())
    assert shapes == [1, 3]
    worker.command("s1", p.PAUSE, [])  # the group forms again without it
    for _ in range(3):
        worker.train()
    assert sorted(len(group.members) for group, _ in worker.groups.values()) == [1, 2]
    for sid, config in configs.items():
        hosted = worker.hosted[sid]
        alone = Trainer(config)
        train_epochs(alone, hosted.members[0].epoch)
        assert hosted.members[0].epoch > 0
        torch.testing.assert_close(hosted.members[0].params, alone.params, atol=1e-5, rtol=1e-5)


def test_a_worker_sends_frames_and_exact_snapshots():
    worker, server_end = hosted_worker()
    worker.open("a", {"params": CONFIG.to_params()})
    worker.command("a", p.STEP, [3])
    worker.send_frames()
    (sid, frame), = p.unpack_frames(server_end.recv_bytes())["frames"]
    assert sid == "a" and frame["epoch"] == 3 and frame["history"]["epoch"] == [1, 2, 3]
    assert frame["state"][0]["epoch"] == 3 and frame["picture"]["boundary"]["data"]
    restored = Trainer(CONFIG)
    restored.restore(frame["state"][0])
    assert torch.equal(restored.params, worker.hosted["a"].members[0].params)


def test_a_failing_session_is_reported_and_the_others_go_on(pool, monkeypatch):
    good, bad = start_session(CONFIG), start_session(CONFIG.replace(dataset="circle"))
    first_frame(good)
    first_frame(bad)
    real_run = Group.run_epochs

    def run_epochs(self, n):
        if any(m.config.dataset == "circle" for m in self.members):
            raise ValueError("a planted bug")
        return real_run(self, n)

    monkeypatch.setattr(Group, "run_epochs", run_epochs)
    bad.step()
    good.step()
    snap = bad.wait_for(lambda s: s["crashed"], TIMEOUT)
    assert snap["crashed"] == "The trainer hit an internal error (ValueError)."
    assert good.wait_for(lambda s: s["epoch"] == 1, TIMEOUT)["crashed"] is None


def test_commands_coalesce_and_a_flood_is_dropped():
    pending = []
    for i in range(1000):
        assert queue_command(pending, p.PLAY if i % 2 else p.PAUSE, [])
    assert pending == [[p.PLAY, []]]
    for _ in range(300):
        queue_command(pending, p.STEP, [1])
    assert pending[-1] == [p.STEP, [p.MAX_STEP]]
    results = [queue_command(pending, p.RESTART, []) for _ in range(50)]
    assert len(pending) == MAX_PENDING and results.count(False) == 50 - (MAX_PENDING - 2)


def test_the_session_cap_gives_a_clear_message(pool):
    start_session(CONFIG, limits=Limits(max_sessions=2))
    start_session(CONFIG, limits=Limits(max_sessions=2))
    with pytest.raises(ServerBusy, match=r"The server is full \(2 sessions"):
        start_session(CONFIG, limits=Limits(max_sessions=2))


def test_close_unregisters_and_later_commands_are_ignored(pool):
    session = start_session(CONFIG)
    first_frame(session)
    assert find_session(session.token) is session
    session.play()
    session.close()
    assert find_session(session.token) is None and session.closed and not session.alive
    assert session.command(p.PLAY) is False
    session.close()
    assert all(session.sid not in link.sessions for link in pool.links)


def test_a_watched_session_stays_and_an_unwatched_one_goes(pool):
    fresh, pageless, watched, left = (start_session(CONFIG) for _ in range(4))
    now = time.monotonic()
    watched.attached, watched.watched = 1, True  # a stream open, no click for an hour
    left.watched = True  # its page watched it, then went without a word
    for session in (pageless, watched, left):
        session.last_contact = now - 3600
    sweep_once(Limits(idle_timeout_s=7200), now=now)
    assert pageless.closed and find_session(pageless.token) is None  # never a stream: no page
    assert pageless.ended_why() == ("This session was closed because its page did not "
                                    "connect within 20 seconds.")
    assert not fresh.closed and not watched.closed and not left.closed
    sweep_once(Limits(idle_timeout_s=30), now=now)
    assert left.closed and not watched.closed and not fresh.closed  # an open stream is contact
    assert left.ended_why(Limits(idle_timeout_s=30)) == (
        "This session was closed after 30 seconds with no page watching it, to free the "
        "server for others.")
    assert left.ended_why(Limits(idle_timeout_s=600)).startswith(
        "This session was closed after 10 minutes")


def test_a_killed_worker_comes_back_and_its_sessions_resume(monkeypatch):
    monkeypatch.setattr(session_module, "_janitor", object())
    made = Pool(1, use_process=True)
    monkeypatch.setattr(pool_module, "_pool", made)
    try:
        session = start_session(CONFIG)
        session.play()
        session.wait_for(lambda s: session.last_state and session.last_state[0]["epoch"] > 50,
                        TIMEOUT)
        pid = made.links[0].pid
        os.kill(pid, signal.SIGKILL)
        snap = session.wait_for(lambda s: s["notice"], TIMEOUT)
        resumed_from = session.last_state[0]["epoch"]
        assert f"from epoch {resumed_from:,}" in snap["notice"]
        assert made.links[0].pid != pid
        # it goes on playing from the snapshot, and its history has no gap or repeat
        session.wait_for(lambda s: s["epoch"] > resumed_from + 20, TIMEOUT)
        epochs = session.members[0].history.epoch
        assert epochs == sorted(set(epochs)) and epochs[-1] > resumed_from + 20
        sent = StreamState()
        assert "from epoch" in p.decode_stream(next_message(session, sent))["notice"]
        session.close()
    finally:
        made.close()


def test_a_stopped_worker_is_noticed_replaced_and_its_sessions_resume(monkeypatch):
    monkeypatch.setattr(session_module, "_janitor", object())
    made = Pool(2, use_process=True)
    monkeypatch.setattr(pool_module, "_pool", made)
    pid = None
    try:
        victim, other = start_session(CONFIG), start_session(CONFIG)
        link = victim.link
        assert other.link is not link  # one on each worker
        victim.play()
        victim.wait_for(lambda s: victim.last_state and victim.last_state[0]["epoch"] > 20,
                        TIMEOUT)
        first_frame(other)
        time.sleep(2 * BEAT_S)  # idle or not, every worker beats
        assert all(w["healthy"] and w["last_beat_s"] < 3 * BEAT_S for w in made.status())
        pid = link.pid
        os.kill(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        # a worker that misses its beats takes no new visitor ...
        other.wait_for(lambda s: not made.status()[link.index]["healthy"], TIMEOUT)
        assert made.status()[link.index]["last_beat_s"] >= SUSPECT_AFTER_S
        assert start_session(CONFIG).link is not link
        # ... and within a few seconds it is killed and replaced, and its sessions say so
        snap = victim.wait_for(lambda s: s["notice"], TIMEOUT)
        assert time.monotonic() - stopped_at < DEAD_AFTER_S + 5
        resumed_from = victim.last_state[0]["epoch"]
        assert snap["notice"] == ("The trainer process stopped answering and was replaced; "
                                  f"training goes on from epoch {resumed_from:,}.")
        assert link.pid != pid and not psutil.pid_exists(pid)
        victim.wait_for(lambda s: s["epoch"] > resumed_from + 20, TIMEOUT)
        assert other.snapshot()["notice"] is None  # the other worker's sessions never knew
        assert made.status()[link.index]["healthy"] and made.status()[link.index]["restarts"] == 1
    finally:
        if pid is not None and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
        made.close()


# -- the live stream's messages ------------------------------------------------------------
def test_next_message_sends_only_what_is_new(pool):
    session = start_session(CONFIG)
    session.step(5)
    session.wait_for(lambda s: s["epoch"] == 5, TIMEOUT)
    sent = StreamState()
    raw = next_message(session, sent)
    assert isinstance(raw, bytes)  # it holds pictures: one binary message
    first = p.decode_stream(raw)
    assert first["restart"] is True and first["error"] is None
    # rows kept as tuples (out of the garbage collector's sight), sent as JSON lists
    assert first["points"] == json.loads(json.dumps(session.members[0].points))
    assert len(first["points"]["train"]) == 50
    assert first["picture"]["boundary"]["w"] == 100
    # the pictures' bytes as the worker drew them, after the JSON
    boundary = first["picture"]["boundary"]["data"]
    assert boundary == session.members[0].picture["boundary"]["data"] and len(boundary) == 100 * 100
    assert len(raw) < 100 * 100 + 6 * 50 * 50 + len(p.stream_json(raw)) + 100
    assert first["history"]["epoch"] == [1, 2, 3, 4, 5]
    assert first["summary"]["epoch"] == 5 and first["summary"]["last"]["epoch"] == 5
    assert next_message(session, sent) is None  # nothing new yet

    session.step(2)
    session.wait_for(lambda s: s["epoch"] == 7, TIMEOUT)
    second = p.decode_stream(next_message(session, sent))
    assert "restart" not in second and "points" not in second
    assert second["history"]["epoch"] == [6, 7]
    assert next_message(session, sent) is None

    session.restart()
    session.wait_for(lambda s: s["generation"] == 1, TIMEOUT)
    third = p.decode_stream(next_message(session, sent))
    assert third["restart"] is True and third["history"]["epoch"] == []
    late = p.decode_stream(next_message(session, StreamState()))  # a page that reconnects
    points = json.loads(json.dumps(session.members[0].points))
    assert late["restart"] is True and late["points"] == points


@pytest.mark.parametrize(("text", "expected"), [
    ('{"cmd": "play"}', ("play", [])),
    ('{"cmd": "step", "epochs": 5}', ("step", [5])),
    ('{"cmd": "step", "epochs": 100000}', ("step", [p.MAX_STEP])),
    ('{"cmd": "step", "epochs": "5"}', None),
    ('{"cmd": "close"}', None),  # not a page's command
    ('{"cmd": "config"}', None),
    ('{"cmd": "view", "stats": false, "neurons": true}', ("view", [False, True])),
    ('{"cmd": "view"}', ("view", [True, True])),
    ('{"cmd": "view", "stats": 0}', None),
    ("play", None), ("", None), ("[1, 2]", None), ('{"cmd": "play"}' + " " * 2000, None),
])
def test_page_commands_are_parsed_strictly(text, expected):
    assert p.parse_page_command(text) == expected


def test_a_frame_leaves_out_what_the_page_does_not_show_and_trains_the_same():
    worker, server_end = hosted_worker()

    def frame_after_a_step(sid: str) -> dict:
        worker.command(sid, p.STEP, [2])
        worker.send_frames()
        return dict(p.unpack_frames(server_end.recv_bytes())["frames"])[sid]

    for sid in ("shown", "scrolled"):
        worker.open(sid, {"params": CONFIG.to_params()})
    worker.command("scrolled", p.VIEW, [False, False])
    shown, scrolled = frame_after_a_step("shown"), frame_after_a_step("scrolled")
    # paused: a page that shows everything gets every part of the picture
    assert {"neurons", "hist_weights", "hist_grads", "confusion"} <= set(shown["picture"])
    assert not {"neurons", "hist_weights", "hist_grads", "confusion"} & set(scrolled["picture"])
    # the rest is the same, and so is the training
    assert scrolled["picture"]["boundary"] == shown["picture"]["boundary"]
    assert scrolled["picture"]["weights"] == shown["picture"]["weights"]
    assert scrolled["history"] == shown["history"]
    worker.command("scrolled", p.VIEW, [True, True])  # scrolled back: all of it again
    assert "neurons" in frame_after_a_step("scrolled")["picture"]


def test_frames_are_strict_json():
    assert p.dumps({"a": [1.0, float("inf"), float("nan")], "b": {"c": -float("inf")}}) == (
        '{"a":[1.0,null,null],"b":{"c":null}}')


def test_a_stream_message_with_bytes_is_binary_json_then_the_bytes_in_order():
    message = {"a": float("nan"), "p": [{"data": b"\x00\x01\xff"}, {"data": b"xy"}], "t": "z"}
    raw = p.encode_stream(message)
    head = b'{"a":null,"p":[{"data":{"$b":[0,3]}},{"data":{"$b":[3,2]}}],"t":"z"}'
    assert raw == len(head).to_bytes(4, "big") + head + b"\x00\x01\xffxy"
    assert p.stream_json(raw) == head
    assert p.decode_stream(raw) == {"a": None, "p": [{"data": b"\x00\x01\xff"}, {"data": b"xy"}],
                                    "t": "z"}
    # without bytes: plain JSON text, as before
    assert p.encode_stream({"a": 1}) == '{"a":1}' == p.stream_json('{"a":1}')
    with pytest.raises(TypeError, match="set cannot travel"):
        p.encode_stream({"a": {1}})


def test_a_weight_or_bias_typed_in_while_paused_is_set_and_measured():
    worker, _ = hosted_worker()
    worker.open("a", {"params": CONFIG.to_params()})
    worker.command("a", p.STEP, [2])
    trainer = worker.hosted["a"].members[0]
    worker.command("a", p.SET_PARAM, ["weight", 0, 1, 0, 2.5])
    worker.command("a", p.SET_PARAM, ["bias", 1, 0, 0, -1.25])
    assert trainer.weights()[0][1, 0].item() == 2.5 and trainer.biases()[1][0].item() == -1.25
    assert trainer.history.last["epoch"] == 2  # the numbers show the edited network
    alone = Trainer(CONFIG)
    train_epochs(alone, 2)
    alone.set_param("weight", 0, 1, 0, 2.5)
    alone.set_param("bias", 1, 0, 0, -1.25)
    assert trainer.history.last["train_loss"] == pytest.approx(alone.history.last["train_loss"])
    before = trainer.params.clone()
    worker.command("a", p.SET_PARAM, ["weight", 5, 0, 0, 1.0])  # no such layer: ignored
    worker.command("a", p.SET_PARAM, ["weight", 0, 0, 9, 1.0])  # no such input
    worker.command("a", p.PLAY, [])
    worker.command("a", p.SET_PARAM, ["bias", 0, 0, 0, 9.0])  # playing: ignored
    assert torch.equal(trainer.params, before)


def test_a_set_param_command_is_parsed_strictly():
    ok = p.parse_page_command('{"cmd": "set_param", "kind": "weight", "layer": 0, "to": 1, '
                              '"from": 2, "value": 99}')
    assert ok == (p.SET_PARAM, ["weight", 0, 1, 2, p.MAX_PARAM])
    for bad in ('{"cmd": "set_param", "kind": "gamma", "value": 1}',
                '{"cmd": "set_param", "kind": "bias", "layer": -1, "value": 1}',
                '{"cmd": "set_param", "kind": "bias", "layer": true, "value": 1}',
                '{"cmd": "set_param", "kind": "bias", "value": "1"}',
                '{"cmd": "set_param", "kind": "bias", "value": NaN}'):
        assert p.parse_page_command(bad) is None, bad


def test_a_runner_holds_its_points_out_of_the_collectors_sight_and_drops_all_on_close(pool):
    import gc

    session = start_session(CONFIG)
    first_frame(session)
    gc.collect()
    assert not any(gc.is_tracked(row) for row in session.members[0].points["train"])
    session.close()
    member = session.members[0]
    assert member.points is None and member.picture is None and len(member.history) == 0
