"""A class room with real pages: a teacher and three students in Chromium at 1024x768.

One server and one room for the module; the tests run in order on it (join, tiles,
push, pause-all, lock, challenge, question, the security checks, leaving, closing)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest
from browser import find_chromium, launch_chromium, running_app
from test_browser import wait_until as _wait_until

pytestmark = pytest.mark.browser
TIMEOUT = 60.0
REACH_S = 2.0  # a teacher's action reaches every student's page within this
# hiding controls takes the student page's own rerun after the notice (slower under load)
RERUN_S = 10.0
VIEWPORT = {"width": 1024, "height": 768}
NAMES = ["Ada", "<b>Bo</b>"]  # the third student types a name into the form
ROOM_ENV = {"PLAYGROUND_ROOM_LEAVE_GRACE_S": "8"}


@dataclass
class Room:
    server: object
    teacher: object
    students: list
    code: str
    errors: list = field(default_factory=list)


@pytest.fixture(scope="module")
def room():
    if not find_chromium():
        pytest.skip("no chromium")
    from playwright.sync_api import sync_playwright

    with running_app(env=ROOM_ENV) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        errors: list[str] = []

        def page():
            new = browser.new_context(viewport=VIEWPORT).new_page()
            new.on("pageerror", lambda error: errors.append(str(error)))
            new.on("dialog", lambda dialog: dialog.accept())
            return new

        teacher = page()
        teacher.goto(server.url + "/?room=new&dataset=xor", timeout=TIMEOUT * 1000)
        teacher.get_by_test_id("room-code").wait_for(timeout=TIMEOUT * 1000)
        code = teacher.get_by_test_id("room-code").inner_text().strip()
        students = []
        for name in NAMES:
            student = page()
            student.goto(f"{server.url}/?room={code}&name={name}", timeout=TIMEOUT * 1000)
            students.append(student)
        third = page()
        third.goto(f"{server.url}/?room={code}")
        third.get_by_label("Your name").fill("Cy")
        third.get_by_role("button", name="Join").click()
        students.append(third)
        for student in students:
            live(student)
        yield Room(server, teacher, students, code, errors)
        browser.close()


def wait_until(condition, timeout: float, what, poll: float = 0.1):
    """As test_browser's, with ``what`` computed when it fails (what the page shows)."""
    try:
        return _wait_until(condition, timeout, "", poll)
    except AssertionError:
        raise AssertionError(f"timed out after {timeout} s waiting for "
                             f"{what() if callable(what) else what}") from None


def live(page) -> None:
    page.locator('[data-testid="pg-epoch"]').wait_for(timeout=TIMEOUT * 1000)
    page.wait_for_function("() => (window.__pgStats || {}).messages > 0",
                           timeout=TIMEOUT * 1000)


def tiles(room: Room) -> dict[str, str]:
    """The teacher's tiles: name -> numbers line."""
    return dict(zip(room.teacher.get_by_test_id("room-tile-name").all_inner_texts(),
                    room.teacher.get_by_test_id("room-tile-nums").all_inner_texts()))


def notice(page) -> str:
    """The live view's message line (both of them while a rerun mounts the view anew)."""
    return " ".join(page.get_by_test_id("pg-msg").all_inner_texts())


LIVE_VIEW = "Object.values(window.__pgViews).find((v) => v.network)"
ROOM_VIEW = "Object.values(window.__pgViews).find((v) => v.tiles)"
SUMMARY = f"() => JSON.stringify(({LIVE_VIEW}).summary)"


def student_playing(page) -> bool:
    return page.evaluate(f"() => Boolean(({LIVE_VIEW}).summary?.playing)")


def press(room: Room, testid: str) -> float:
    room.teacher.get_by_test_id(testid).click()
    return time.monotonic()


def test_students_join_and_their_tiles_are_live(room):
    wait_until(lambda: len(tiles(room)) == 3, TIMEOUT,
               lambda: f"three tiles; have {tiles(room)}; students at "
               f"{[s.url for s in room.students]}")
    assert set(tiles(room)) == {"Ada", "<b>Bo</b>", "Cy"}
    # the markup in a name is text: no <b> element anywhere in the grid
    assert room.teacher.locator('[data-testid="room-grid"] b').count() == 0
    assert room.students[1].locator('.st-key-room_banner b').count() == 0
    assert "you are <b>Bo</b>" in room.students[1].locator(".st-key-room_banner").inner_text()
    # the join link holds the code and never the teacher key
    key = room.teacher.url.split("teacher=")[1]
    body = room.teacher.locator("body").inner_text()
    assert f"?room={room.code}" in body and key not in body
    assert room.teacher.locator(".st-key-room_qr img").count() == 1
    for student in room.students:
        student.get_by_test_id("pg-play").click()
        wait_until(lambda s=student: student_playing(s), TIMEOUT, "a student playing")
    wait_until(lambda: "3 playing" in room.teacher.get_by_test_id("room-counts").inner_text(),
               10, "the count of players")
    first = tiles(room)
    wait_until(lambda: all(tiles(room)[n] != first[n] for n in first), 5,
               "every tile updated within seconds")
    sources = room.teacher.locator(".pg-tile-img").evaluate_all("els => els.map(e => e.src)")
    assert all(src.startswith("data:image/png") for src in sources)


def test_a_reload_keeps_the_students_place(room):
    ada = room.students[0]
    seat_url = ada.url
    ada.reload()
    live(ada)
    assert ada.url == seat_url
    wait_until(lambda: "you are Ada" in ada.locator(".st-key-room_banner").inner_text(), 20,
               "Ada back in her seat")
    wait_until(lambda: not any("away" in n for n in tiles(room).values()), 20, "tile back")
    assert sorted(tiles(room)) == ["<b>Bo</b>", "Ada", "Cy"]
    ada.get_by_test_id("pg-play").click()


def test_pause_all_and_play_all_reach_every_student(room):
    wait_until(lambda: all(student_playing(s) for s in room.students), 10, "all playing")
    press(room, "room-pause-all")
    wait_until(lambda: not any(student_playing(s) for s in room.students), REACH_S,
               "everyone paused")
    for student in room.students:
        wait_until(lambda s=student: "paused everyone" in notice(s), REACH_S, "a notice")
    press(room, "room-play-all")
    wait_until(lambda: all(student_playing(s) for s in room.students), REACH_S,
               "everyone playing again")


def test_send_my_experiment_restarts_everyone_on_it(room):
    teacher = room.teacher
    # the teacher adds a hidden layer to their own experiment (its live view's "+")
    before = teacher.locator(".pg-net-head").inner_text()
    teacher.locator(".pg-net-head .pg-btn").first.click()
    wait_until(lambda: teacher.locator(".pg-net-head").inner_text() != before, 20,
               "the teacher's network grew")
    time.sleep(0.5)  # the teacher's trainer has the new config (it is one command behind)
    press(room, "room-push")
    for student in room.students:
        wait_until(lambda s=student: "new experiment" in notice(s), REACH_S, "the push notice")
    for student in room.students:
        wait_until(lambda s=student: s.locator(".pg-net-head").inner_text()
                   == teacher.locator(".pg-net-head").inner_text(), 10,
                   "the student's page shows the pushed network")
    wait_until(lambda: all(d == "room's settings" for d in
                           teacher.get_by_test_id("room-tile-diff").all_inner_texts()), 10,
               "no tile differs from the room")


def _teacher_command(room: Room, action: str, **fields) -> None:
    room.teacher.evaluate(f"([a, f]) => ({ROOM_VIEW}).command(a, f)",
                          [action, fields])


def test_lock_hides_controls_on_every_student_page(room):
    _teacher_command(room, "lock", names=["learning_rate", "optimizer"])
    for student in room.students:
        wait_until(lambda s=student: not s.locator(".st-key-cfg_learning_rate").is_visible(),
                   RERUN_S, "learning rate hidden")
        assert not student.locator(".st-key-cfg_optimizer").is_visible()
        wait_until(lambda s=student: "locked" in notice(s), RERUN_S, "the lock notice")
    _teacher_command(room, "lock", names=[])
    wait_until(lambda: room.students[0].locator(".st-key-cfg_learning_rate").is_visible(),
               10, "unlocked")


def test_a_challenge_ranks_the_students_and_each_sees_their_rank(room):
    _teacher_command(room, "challenge", name="lowest_loss_300")
    board = room.teacher.get_by_test_id("room-board")
    wait_until(lambda: board.locator("li").count() == 3, 30,
               lambda: f"three students ranked; tiles {tiles(room)}; summaries "
               f"{[s.evaluate(SUMMARY) for s in room.students]}")
    # the board moves as each student is scored, and each move reruns the pages it
    # changes: a page may show an earlier place for a moment
    banners = lambda: [s.locator(".st-key-room_banner").inner_text() for s in room.students]  # noqa: E731
    wait_until(lambda: {b.split("You are ")[1][:3] for b in banners() if "You are " in b}
               == {"1st", "2nd", "3rd"}, 2 * RERUN_S,
               lambda: f"each student's own place; the banners say {banners()}")


def test_a_question_gets_answers_a_tally_and_a_reveal(room):
    teacher = room.teacher
    teacher.get_by_role("button", name="Ask a question").click()
    teacher.get_by_role("textbox", name="Question").fill(
        "Which activation learns XOR fastest here?")
    for k, choice in enumerate(["tanh", "sigmoid", "linear"]):
        teacher.get_by_role("textbox", name=f"Choice {k + 1}").fill(choice)
    teacher.get_by_role("button", name="Ask the class").click()
    for student in room.students:
        wait_until(lambda s=student: s.locator(".st-key-room_question").count() == 1, RERUN_S,
                   "the question on every student page")
    for student, choice in zip(room.students, [0, 0, 1]):
        student.locator(f".st-key-room_answer_{choice} button").click()
    tally = teacher.get_by_test_id("room-tally-n")
    wait_until(lambda: tally.all_inner_texts() == ["2", "1", "0"], 10, "the live tally")
    teacher.keyboard.press("Escape")
    teacher.get_by_test_id("room-reveal").click()
    for student in room.students:
        wait_until(lambda s=student: "Answers are in" in notice(s), REACH_S, "the reveal")


def test_teacher_commands_from_a_students_stream_are_refused(room):
    """Every teacher command, sent down a student's own live stream with every key a
    student could know or guess, changes nothing."""
    bo = room.students[1]
    before = (sorted(tiles(room)), [student_playing(s) for s in room.students],
              room.teacher.get_by_test_id("room-tally-n").all_inner_texts())
    seat = bo.url.split("seat=")[1]
    commands = []
    for action in ("push", "pause_all", "play_all", "lock", "challenge", "question", "reveal",
                   "remove", "close"):
        for key in ("", room.code, seat, "x" * 32):
            commands.append({"cmd": "room", "action": action, "key": key,
                             "names": ["learning_rate"], "name": "fastest_90",
                             "text": "Hacked?", "choices": ["a", "b"],
                             "tile": "anything"})
    bo.evaluate(f"(cmds) => {{ const ws = ({LIVE_VIEW}).stream.ws;"
                " for (const c of cmds) ws.send(JSON.stringify(c)); }",
                commands[:36])  # the stream allows 40 at once
    time.sleep(REACH_S)  # long enough for any of them to have acted: none may
    after = (sorted(tiles(room)), [student_playing(s) for s in room.students],
             room.teacher.get_by_test_id("room-tally-n").all_inner_texts())
    assert after == before
    assert "closed" not in room.teacher.get_by_test_id("room-counts").inner_text()
    # nothing locked (a page mid-rerun after the question shows its controls again)
    wait_until(lambda: all(s.locator(".st-key-cfg_learning_rate").is_visible()
                           for s in room.students), RERUN_S, "every student's controls")
    assert "Hacked" not in json.dumps([notice(s) for s in room.students])
    # the student's stream is still the student's: play and pause still work
    assert bo.evaluate(f"() => ({LIVE_VIEW}).stream.ws.readyState") == 1


def test_wrong_codes_get_a_sentence_after_a_pause(room):
    page = room.teacher.context.browser.new_context(viewport=VIEWPORT).new_page()
    started = time.monotonic()
    page.goto(f"{room.server.url}/?room=ZZZZZ&name=Eve")
    page.get_by_text("There is no room ZZZZZ; check the code.").wait_for(timeout=20_000)
    assert time.monotonic() - started >= 1.0
    page.close()


def test_removing_and_leaving_free_the_tiles(room):
    cy = room.students[2]
    cy_tile = room.teacher.locator('[data-testid="room-tile"]', has_text="Cy")
    cy_tile.get_by_test_id("room-tile-remove").click()
    wait_until(lambda: "Cy" not in tiles(room), REACH_S, "Cy's tile gone")
    wait_until(lambda: "removed you" in notice(cy), REACH_S, "Cy told")
    room.students[1].close()  # Bo closes the tab
    wait_until(lambda: list(tiles(room)) == ["Ada"], 20, "Bo's tile freed")


def test_closing_the_room_tells_the_students_and_the_code_says_closed(room):
    ada = room.students[0]
    room.teacher.get_by_test_id("room-close").click()
    # leaving the room reruns Ada's page, which mounts its live view anew: the notice
    # is on the new view too, once its stream is open
    wait_until(lambda: "closed room" in notice(ada), RERUN_S, "Ada told")
    wait_until(lambda: "closed" in room.teacher.get_by_test_id("room-counts").inner_text(),
               REACH_S, "the teacher view says closed")
    page = ada.context.new_page()
    page.goto(f"{room.server.url}/?room={room.code}&name=Late")
    page.get_by_text(f"Room {room.code} was closed").wait_for(timeout=20_000)
    assert room.errors == []
