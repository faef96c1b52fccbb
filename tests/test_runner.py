"""Runners and their session loop: the commands the page sends do what they say, in a
thread and in a real trainer process; the registry caps processes and the janitor
closes crashed ones. Plus the live stream's message logic (``live.next_message``)."""

import json
import threading
import time

import pytest

from playground import runner as runner_module
from playground.config import Config
from playground.limits import Limits
from playground.live import StreamState, next_message
from playground.runner import ServerBusy, find_runner, start_runner, sweep_once

CONFIG = Config(dataset="xor", n_points=100, hidden=(3,))
TIMEOUT = 30.0  # for a loaded machine; wait_for returns as soon as its condition holds


@pytest.fixture(autouse=True)
def no_janitor(monkeypatch):
    # the janitor thread would close runners behind the tests' back: none starts here,
    # and one that another test started finds nothing to do; the tests call the real
    # sweep_once (imported above) by hand
    monkeypatch.setattr(runner_module, "_janitor", threading.Thread())
    monkeypatch.setattr(runner_module, "sweep_once", lambda *args, **kwargs: None)


@pytest.fixture
def make_runner():
    started = []

    def make(config=CONFIG, **kwargs):
        kwargs.setdefault("use_process", False)
        runner = start_runner(config, **kwargs)
        started.append(runner)
        return runner

    yield make
    for runner in started:
        runner.close()


def first_frame(runner):
    return runner.wait_for(lambda s: runner.version > 0 and runner.picture is not None, TIMEOUT)


def paused_at(runner) -> int:
    """Pause and wait until the loop says so; the epoch it stopped at."""
    runner.pause()
    runner.wait_for(lambda s: not s["playing"], TIMEOUT)
    time.sleep(0.1)  # a frame in flight
    return runner.snapshot()["epoch"]


def test_play_pause_step(make_runner):
    runner = make_runner()
    snap = first_frame(runner)
    assert snap["epoch"] == 0 and snap["playing"] is False and snap["crashed"] is None
    runner.play()
    snap = runner.wait_for(lambda s: s["epoch"] > 20, TIMEOUT)
    assert snap["epoch"] > 20 and snap["playing"] is True
    epoch = paused_at(runner)
    time.sleep(0.3)
    assert runner.snapshot()["epoch"] == epoch  # paused: no more epochs
    runner.step()
    runner.wait_for(lambda s: s["epoch"] > epoch, TIMEOUT)
    time.sleep(0.2)
    assert runner.snapshot()["epoch"] == epoch + 1
    runner.step(3)
    runner.wait_for(lambda s: s["epoch"] > epoch + 1, TIMEOUT)
    time.sleep(0.2)
    assert runner.snapshot()["epoch"] == epoch + 4
    # the runner holds every history row exactly once, in order
    assert runner.history["epoch"] == list(range(1, epoch + 5))
    assert all(len(runner.history[key]) == epoch + 4 for key in runner_module.HISTORY_KEYS)


def test_step_while_playing_pauses(make_runner):
    runner = make_runner()
    runner.play()
    runner.wait_for(lambda s: s["epoch"] > 5, TIMEOUT)
    runner.step()
    runner.wait_for(lambda s: not s["playing"], TIMEOUT)
    epoch = runner.snapshot()["epoch"]
    time.sleep(0.3)
    assert runner.snapshot()["epoch"] == epoch


def test_reset_returns_to_the_same_start(make_runner):
    runner = make_runner()
    first_frame(runner)
    initial = runner.picture["weights"]
    runner.play()
    runner.wait_for(lambda s: s["epoch"] > 20, TIMEOUT)
    paused_at(runner)
    assert runner.picture["weights"] != initial
    runner.reset(keep_init=True)
    snap = runner.wait_for(lambda s: s["epoch"] == 0 and s["generation"] == 1, TIMEOUT)
    assert snap["epoch"] == 0 and runner.history["epoch"] == []
    assert runner.picture["weights"] == initial
    runner.reset(keep_init=False)
    snap = runner.wait_for(lambda s: s["generation"] == 2, TIMEOUT)
    assert snap["epoch"] == 0 and snap["config"]["init_seed"] == "1"
    assert runner.picture["weights"] != initial


def test_live_config_change_keeps_training(make_runner):
    runner = make_runner()
    runner.step(7)
    runner.wait_for(lambda s: s["epoch"] == 7, TIMEOUT)
    runner.apply_config(CONFIG.replace(learning_rate=0.3))
    snap = runner.wait_for(lambda s: s["config"].get("learning_rate") == "0.3", TIMEOUT)
    assert snap["epoch"] == 7 and snap["generation"] == 0
    runner.step()
    assert runner.wait_for(lambda s: s["epoch"] == 8, TIMEOUT)["epoch"] == 8
    assert runner.history["epoch"] == list(range(1, 9))


def test_structural_config_change_restarts(make_runner):
    runner = make_runner()
    runner.step(7)
    runner.wait_for(lambda s: s["epoch"] == 7, TIMEOUT)
    runner.apply_config(CONFIG.replace(hidden=(5, 2), activation=("relu",)))
    snap = runner.wait_for(lambda s: s["generation"] == 1, TIMEOUT)
    assert snap["epoch"] == 0 and snap["config"]["hidden"] == "5,2"
    assert runner.history["epoch"] == []
    assert runner.picture["sizes"] == [2, 5, 2, 1]


def test_speed_limits_epochs_per_second(make_runner):
    runner = make_runner()
    first_frame(runner)
    runner.set_speed(10)
    runner.play()
    time.sleep(0.2)
    start = runner.snapshot()["epoch"]
    time.sleep(1.5)
    ran = runner.snapshot()["epoch"] - start
    assert 4 <= ran <= 25, ran  # about 15
    runner.set_speed(0)  # 0: as fast as possible
    time.sleep(0.1)
    start = runner.snapshot()["epoch"]
    time.sleep(0.3)
    assert runner.snapshot()["epoch"] - start > 25


def test_close_ends_the_thread_and_unregisters(make_runner):
    runner = make_runner()
    first_frame(runner)
    assert find_runner(runner.token) is runner
    runner.play()
    runner.close()
    runner.worker.join(timeout=TIMEOUT)
    assert not runner.worker.is_alive()
    assert find_runner(runner.token) is None
    assert runner.closed and not runner.alive and runner.crashed is None
    runner.play()  # commands after close are ignored, not errors
    runner.close()


def test_process_runners_cap_close_and_crash(make_runner):
    # two real trainer processes, started together (each one's start-up costs seconds)
    two_slots, one_slot = Limits(max_trainers=2), Limits(max_trainers=1)
    runner = make_runner(use_process=True, limits=two_slots)
    doomed = make_runner(use_process=True, limits=two_slots)
    for limits in (two_slots, one_slot):
        with pytest.raises(ServerBusy):
            make_runner(use_process=True, limits=limits)
    make_runner(limits=one_slot)  # threads do not take a process slot

    runner.play()
    snap = runner.wait_for(lambda s: s["epoch"] > 20, timeout=TIMEOUT)
    assert snap["crashed"] is None and snap["epoch"] > 20
    assert runner.worker.is_alive() and runner.worker.pid != doomed.worker.pid
    runner.close()
    assert not runner.worker.is_alive()
    assert find_runner(runner.token) is None
    with pytest.raises(ServerBusy):  # the other process still holds the only slot
        make_runner(use_process=True, limits=one_slot)

    # a trainer that dies is reported, to the page too, and swept away
    first_frame(doomed)
    sent = StreamState()
    assert next_message(doomed, sent) is not None and next_message(doomed, sent) is None
    doomed.worker.kill()
    snap = doomed.wait_for(lambda s: s["crashed"] is not None, TIMEOUT)
    assert snap["crashed"][0].isupper() and snap["crashed"].endswith(".")
    assert json.loads(next_message(doomed, sent))["crashed"] == doomed.crashed
    assert not doomed.alive and find_runner(doomed.token) is doomed
    sweep_once(one_slot)
    assert doomed.closed and find_runner(doomed.token) is None
    assert not doomed.worker.is_alive()


def crash_by_bad_command(runner, monkeypatch):
    """A bug inside the loop (planted: drawing a frame raises) ends it."""
    first_frame(runner)

    def broken(self):
        raise ValueError("a planted bug")

    monkeypatch.setattr("playground.session_loop.SessionLoop.send_frame", broken)
    runner.step(1)
    runner.worker.join(timeout=TIMEOUT)
    runner.reader.join(timeout=TIMEOUT)  # the reader has seen everything the loop sent
    assert not runner.worker.is_alive() and not runner.reader.is_alive()


def test_an_internal_error_is_reported_and_swept(make_runner, monkeypatch):
    runner = make_runner()
    crash_by_bad_command(runner, monkeypatch)
    assert runner.snapshot()["crashed"]
    assert not runner.alive
    sweep_once()
    assert runner.closed and find_runner(runner.token) is None


def test_the_internal_error_message_survives(make_runner, monkeypatch):
    runner = make_runner()
    crash_by_bad_command(runner, monkeypatch)
    assert runner.crashed.startswith("The trainer hit an internal error")
    assert "ValueError" in runner.crashed


def test_sweep_closes_idle_and_detached_runners(make_runner):
    fresh, idle, watched = make_runner(), make_runner(), make_runner()
    now = time.monotonic()
    watched.attached = 1
    idle.last_contact = watched.last_contact = now - 60  # 60 s without contact
    sweep_once(Limits(idle_timeout_s=600), now=now)
    assert idle.closed and find_runner(idle.token) is None  # no page stream: gone
    assert not fresh.closed and not watched.closed
    sweep_once(Limits(idle_timeout_s=30), now=now)
    assert watched.closed and not fresh.closed  # a page idle past the timeout


# -- the live stream's messages ------------------------------------------------------------
def test_next_message_sends_only_what_is_new(make_runner):
    runner = make_runner()
    runner.step(5)
    runner.wait_for(lambda s: s["epoch"] == 5, TIMEOUT)
    sent = StreamState()
    first = json.loads(next_message(runner, sent))
    assert first["restart"] is True and first["crashed"] is None
    assert first["points"] == runner.points and len(first["points"]["train"]) == 50
    assert first["picture"]["boundary"].startswith("data:image/png")
    assert first["history"]["epoch"] == [1, 2, 3, 4, 5]
    assert first["summary"]["epoch"] == 5
    assert next_message(runner, sent) is None  # nothing new yet
    assert next_message(runner, sent) is None

    runner.step(2)
    runner.wait_for(lambda s: s["epoch"] == 7, TIMEOUT)
    second = json.loads(next_message(runner, sent))
    assert "restart" not in second and "points" not in second
    assert second["history"]["epoch"] == [6, 7]
    assert len(second["history"]["train_loss"]) == 2
    assert second["picture"] is not None
    assert next_message(runner, sent) is None

    runner.reset()
    runner.wait_for(lambda s: s["generation"] == 1, TIMEOUT)
    third = json.loads(next_message(runner, sent))
    assert third["restart"] is True and third["history"]["epoch"] == []

    late = json.loads(next_message(runner, StreamState()))  # a page that reconnects
    assert late["restart"] is True and late["points"] == runner.points


def test_a_malformed_command_is_dropped_and_the_session_goes_on(make_runner):
    runner = make_runner()
    first_frame(runner)
    runner.set_speed("fast")
    runner.step(1)
    assert runner.wait_for(lambda s: s["epoch"] == 1)["epoch"] == 1 and runner.alive
