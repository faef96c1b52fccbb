"""Own data: the compact text form, CSV files in and out (each kind of bad file with its
sentence, nothing changed), point edits, the Trainer on own points (a new set keeps the
weights), the URL, the command line and the page's panel."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground.cli import main
from playground.engine.config.config import Config
from playground.engine.config.limits import Limits
from playground.engine.data.datasets import BOX, load_dataset
from playground.engine.data.edits import apply_edit
from playground.engine.data.own_csv import MAX_CSV_BYTES, parse_csv
from playground.engine.data.own_points import (
    MIN_POINTS,
    URL_MAX_POINTS,
    DataProblem,
    count_points,
    decode_points,
    encode_points,
)
from playground.engine.data.points import (
    all_points,
    fits_in_link,
    link_params,
    points_csv,
    points_dataset,
    train_mask,
)
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer
from playground.server.frames import FrameBuilder
from playground.ui.text import plain

STEP = 2 * BOX / 65534  # one quantization step of a coordinate
RNG = np.random.default_rng(7)


def own(n: int = 30, task: str = "classification", classes: int = 2, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n) if task == "classification" else rng.uniform(-1, 1, n)
    return encode_points(rng.uniform(-BOX, BOX, (n, 2)), labels, task)


# -- the text form ---------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_points_round_trip_within_half_a_step_and_then_exactly(task):
    x = RNG.uniform(-BOX, BOX, (50, 2))
    x[:3] = [[0.0, 0.0], [-BOX, BOX], [BOX, -BOX]]  # exact in 16 bits by design
    y = RNG.integers(0, 3, 50) if task == "classification" else RNG.uniform(-1, 1, 50)
    text = encode_points(x, y, task)
    points = decode_points(text)
    assert points.task == task and len(points) == 50 == count_points(text)
    assert np.abs(points.x - x).max() <= STEP / 2 + 1e-6
    np.testing.assert_array_equal(points.x[:3], x[:3])
    if task == "classification":
        np.testing.assert_array_equal(points.y, y)
    else:
        assert np.abs(points.y - y).max() <= 1 / 65534 + 1e-6
    assert encode_points(points.x, points.y, task) == text  # idempotent after quantizing
    assert set(text) <= set("cv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_two_hundred_points_make_a_short_link_parameter():
    # 9 bytes and a bit a point, base64: 2,434 characters, far below a server's 8 KB line
    assert len(own(URL_MAX_POINTS)) < 2450


@pytest.mark.parametrize("text", ["", "c", "x.AAAAAAA", "c.AAAA", "c.AA!AAAA",
                                  "v.AAAAAAA", "c./////////8", "c.A", "v.________", "c.________"])
def test_unreadable_texts_are_refused(text):
    with pytest.raises(DataProblem, match="not a set of points"):
        decode_points(text)


# -- the Config field: URL and validation -----------------------------------------------------
def test_own_points_travel_in_the_url_exactly():
    config = Config(dataset="spiral3", data=own(40, classes=3))
    again, warnings = Config.from_params(config.to_params())
    assert warnings == [] and again == config
    assert fits_in_link(config) and link_params(config)["data"] == config.data


def test_large_sets_stay_out_of_the_link_but_not_out_of_the_config():
    config = Config(data=own(URL_MAX_POINTS + 1))
    assert not fits_in_link(config) and "data" not in link_params(config)
    assert Config.from_params(config.to_params())[0] == config  # the worker still gets them


@pytest.mark.parametrize("params, why", [
    ({"data": "c.garbage!"}, "not a set of points"),
    ({"data": own(MIN_POINTS - 1)}, f"at least {MIN_POINTS} are needed"),
    ({"data": "c."}, f"has 0 points; at least {MIN_POINTS} are needed"),
    ({"data": own(30), "dataset": "plane"}, "carry classes, but Plane is a regression"),
    ({"data": own(30, "regression")}, "carry values, but Circle is a classification"),
    ({"data": own(30, classes=3)}, "has only the classes 0 to 1"),
    ({"data": own(30), "dataset": "digits"}, "need a 2-D data set"),
])
def test_a_bad_data_param_is_ignored_with_a_warning(params, why):
    config, warnings = Config.from_params(params)
    assert config.data == ""
    assert len(warnings) == 1 and warnings[0].startswith("Ignored data") and why in warnings[0]


def test_too_many_points_for_this_server_are_ignored():
    config, warnings = Config.from_params({"data": own(30)}, Limits(max_points=20))
    assert config.data == "" and "at most 20 are allowed" in warnings[0]


def test_another_data_set_drops_the_own_points():
    config = Config(data=own(30))
    assert config.with_dataset("xor").data == "" and config.with_dataset("circle") == config


# -- CSV files --------------------------------------------------------------------------------
@pytest.mark.parametrize("config", [Config(dataset="blobs3", data=own(60, classes=3)),
                                    Config(dataset="plane", data=own(60, "regression"))])
def test_csv_round_trips_exactly(config):
    parsed = parse_csv(points_csv(config).encode(), config)
    assert parsed.text == config.data and parsed.scaling is None
    assert parsed.header in (("x1", "x2", "label"), ("x1", "x2", "value"))


def test_generated_points_download_as_they_are():
    config = Config(dataset="moons", n_points=80)
    data = load_dataset("moons", 80, 0, 50, 0)
    parsed = parse_csv(points_csv(config).encode(), config)
    x = np.concatenate([data.x_train, data.x_test])
    assert np.abs(parsed.x - x).max() <= STEP / 2 + 1e-5
    np.testing.assert_array_equal(parsed.y, np.concatenate([data.y_train, data.y_test]))


def test_csv_without_header_with_semicolons_and_a_byte_order_mark():
    text = "\ufeff1;2;0\n\n-1.5;0.25;1\n3;-3;1\n0;0;0\n"
    parsed = parse_csv(text.encode(), Config())
    assert parsed.header is None and len(parsed.x) == 4
    np.testing.assert_allclose(parsed.x[1], [-1.5, 0.25], atol=STEP)
    assert parsed.preview[1]["label"] == 1 and parsed.y.tolist() == [0, 1, 1, 0]


def test_points_outside_the_box_are_rescaled_and_the_scaling_is_reported():
    rows = [(0, 2, 0), (1000, -3, 1), (250, 5, 1), (500, 0, 0)]
    text = "\n".join(",".join(map(str, row)) for row in rows)
    parsed = parse_csv(text.encode(), Config())
    assert parsed.scaling == "Rescaled to fit the plot: x1 from 0..1000 to -5..5."
    expected_x1 = np.array([0, 1000, 250, 500]) / 1000 * 10 - 5  # an affine map onto -5..5
    np.testing.assert_allclose(parsed.x[:, 0], expected_x1, atol=STEP)
    np.testing.assert_allclose(parsed.x[:, 1], [2, -3, 5, 0], atol=STEP)  # within: kept


def test_regression_values_beyond_one_are_rescaled_too():
    text = "x,y,price\n0,0,10\n1,1,30\n2,2,20\n3,3,10\n"
    parsed = parse_csv(text.encode(), Config(dataset="plane"))
    assert "value from 10..30 to -1..1" in parsed.scaling
    np.testing.assert_allclose(parsed.y, [-1, 1, 0, -1], atol=1e-4)


GOOD_ROWS = "1,2,0\n2,3,1\n-1,-2,0\n0.5,0.5,1\n"
MALFORMED = [  # (file, a piece of its one sentence): every kind of bad file
    (b"", "The file is empty."),
    (b"  \n\n \n", "The file is empty."),
    (b"x1,x2,label\n" + b"1,2,0\n" * (MAX_CSV_BYTES // 6), "KB a data file may have"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text"),
    (b"\xff\xfe1,2,0\n\x00", "not text"),  # UTF-16 cut in the middle of a character
    (b"a,b\n1,2\n", "three columns (x1, x2 and the label); its header has 2"),
    (b"1,2\n3,4\n5,6\n7,8\n", "row 1 has 2"),
    (GOOD_ROWS.encode() + b"1,2,0,9\n", "Row 5 has 4 columns"),
    (b"x1,x2,label\n", "a header but no points"),
    (b"1,2,0\n2,abc,1\n3,4,0\n5,6,1\n", "Row 2, column 2 is 'abc', which is not a number"),
    (b"1,2,0\n2,,1\n3,4,0\n5,6,1\n", "Row 2, column 2 is empty"),
    (b"1,2,0\n2,nan,1\n3,4,0\n5,6,1\n", "Row 2, column 2 is NaN"),
    (b"1,2,0\n2,3,1\ninf,4,0\n5,6,1\n", "Row 3, column 1 is infinite"),
    (b"1,2,0\n" * 2001, "2,001 points; this server takes at most 2,000"),
    (b"1,2,0\n2,3,1\n", "2 points; at least 4 are needed"),
    (b"1,2,0\n2,3,1\n3,4,2\n5,6,1\n", "The label of row 3, 2, is not a class of Circle"),
    # a student counts points, the header not counted; an editor shows the line
    (b"x1,x2,label\n1,2,0\n2,oops,1\n3,4,0\n5,6,1\n",
     "Row 2 (line 3 of the file), column 2 is 'oops'"),
    (b"x1,x2,label\n1,2,0\n\n2,3,1\n3,4,5\n5,6,1\n",
     "The label of row 3 (line 5 of the file), 5, is not a class"),
    (b"1,2,0\n2,3,0.5\n3,4,1\n5,6,1\n", "row 2, 0.5, is not a class"),
    (b"1,2,1\n2,3,1\n3,4,1\n5,6,1\n", "at least two classes"),
]


def test_there_are_at_least_ten_kinds_of_bad_file():
    assert len({why for _, why in MALFORMED}) >= 10


@pytest.mark.parametrize("data, why", MALFORMED)
def test_each_bad_file_gets_its_sentence(data, why):
    with pytest.raises(DataProblem) as problem:
        parse_csv(data, Config(), Limits(max_points=2000))
    sentence = str(problem.value)
    assert why in sentence and sentence.endswith(".") and "\n" not in sentence


def test_the_digits_refuse_own_data_with_a_sentence():
    with pytest.raises(DataProblem, match="^Own data needs a 2-D data set;.*64 inputs"):
        parse_csv(GOOD_ROWS.encode(), Config(dataset="digits"))


def test_command_line_trains_on_a_csv_file(tmp_path, capsys):
    path = tmp_path / "mine.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{i % 5 - 2},{i % 7 - 3},{i % 2}\n"
                                               for i in range(40)))
    assert main(["train", "--data", str(path), "--epochs", "3", "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epoch"] == 3 and count_points(result["config"]["data"]) == 40
    (tmp_path / "bad.csv").write_text("1,2\n")
    assert main(["train", "--data", str(tmp_path / "bad.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "three columns" in err and err.count("\n") == 1
    assert main(["train", "--data", str(tmp_path / "missing.csv"), "--quiet"]) == 2
    assert "Cannot read" in capsys.readouterr().err


# -- edits from the plot ----------------------------------------------------------------------
def test_the_first_click_adds_one_point_to_the_generated_ones():
    config = Config(n_points=40)
    x, y = all_points(config)
    edited, refusal = apply_edit(config, {"op": "add_point", "x": 1.25, "y": 9.0, "label": 1})
    assert refusal is None and config.changed_fields(edited) == ["data"]
    new_x, new_y = all_points(edited)
    assert len(new_x) == 41 and new_y.tolist() == [*y.tolist(), 1]
    assert np.abs(new_x[:40] - x).max() <= STEP / 2 + 1e-5
    np.testing.assert_allclose(new_x[40], [1.25, BOX], atol=STEP)  # clipped into the box


def test_a_regression_point_carries_its_value():
    config = Config(dataset="plane", data=own(10, "regression"))
    edited, _ = apply_edit(config, {"op": "add_point", "x": 0, "y": 0, "value": -0.5})
    assert all_points(edited)[1][-1] == pytest.approx(-0.5, abs=1e-4)


def test_erasing_removes_exactly_the_points_in_the_box():
    config = Config(data=own(100))
    x, y = all_points(config)
    edited, refusal = apply_edit(config, {"op": "erase_points", "x0": 2, "x1": -1,
                                          "y0": -6, "y1": 0.5})
    inside = (x[:, 0] >= -1) & (x[:, 0] <= 2) & (x[:, 1] >= -6) & (x[:, 1] <= 0.5)
    assert refusal is None and 0 < inside.sum() < 100
    new_x, new_y = all_points(edited)
    np.testing.assert_array_equal(new_x, x[~inside])
    np.testing.assert_array_equal(new_y, y[~inside])
    empty = {"op": "erase_points", "x0": 9, "x1": 10, "y0": 9, "y1": 10}
    assert apply_edit(config, empty) == (config, None)  # nothing there: nothing changes


@pytest.mark.parametrize("config, edit, why", [
    (Config(n_points=20, data=own(MIN_POINTS + 1)),
     {"op": "erase_points", "x0": -6, "x1": 6, "y0": -6, "y1": 6},
     f"has 0 points; at least {MIN_POINTS} are needed"),
    (Config(n_points=20), {"op": "add_point", "x": 0, "y": 0, "label": 0},
     "at most 20 are allowed"),
    (Config(dataset="digits"), {"op": "add_point", "x": 0, "y": 0, "label": 0},
     "Own data needs a 2-D data set"),
    (Config(), {"op": "add_point", "x": 0, "y": 0, "label": 2}, "not understood"),
    (Config(), {"op": "add_point", "x": 0, "y": 0, "label": "1"}, "not understood"),
    (Config(), {"op": "add_point", "x": float("nan"), "y": 0, "label": 1}, "not understood"),
    (Config(dataset="plane"), {"op": "add_point", "x": 0, "y": 0}, "not understood"),
    (Config(), {"op": "erase_points", "x0": 0, "x1": 1, "y0": 0}, "not understood"),
])
def test_refused_point_edits_say_why_and_change_nothing(config, edit, why):
    edited, refusal = apply_edit(config, edit, Limits(max_points=20))
    assert edited is config and why in refusal and refusal.endswith(".")


# -- the Trainer on own points ----------------------------------------------------------------
def test_trainer_trains_on_own_points_split_by_the_ratio():
    config = Config(data=own(60), train_ratio=70)
    trainer = Trainer(config)
    d = trainer.dataset
    assert (len(d.x_train), len(d.x_test)) == (42, 18)
    points = decode_points(config.data)
    rows = {tuple(row) for row in np.concatenate([d.x_train, d.x_test]).tolist()}
    assert rows == {tuple(row) for row in points.x.tolist()}
    assert train_epochs(trainer, 5) == 5 and np.isfinite(trainer.metrics()["train_loss"])
    again = points_dataset(config)  # deterministic: the same split every time
    np.testing.assert_array_equal(again.x_train, d.x_train)


def test_adding_a_point_moves_at_most_one_other_between_train_and_test():
    x = RNG.uniform(-BOX, BOX, (200, 2)).astype(np.float32)
    mask = train_mask(x, 0.5, 3)
    grown = train_mask(np.vstack([x, [[0.5, 0.5]]]).astype(np.float32), 0.5, 3)
    assert np.sum(mask != grown[:200]) <= 1
    assert train_mask(x, 0.5, 4).tolist() != mask.tolist()  # the data seed picks the split


def test_new_points_keep_the_weights_and_the_optimizer_and_reach_the_page():
    config = Config(data=own(60), optimizer="adam")
    trainer = Trainer(config)
    train_epochs(trainer, 5)
    params = trainer.params.clone()
    slots = {name: value.clone() for name, value in trainer.slots.items()}
    frames = FrameBuilder()
    assert len(frames.build(trainer, False)["points"]["train"]) == 30
    edited, _ = apply_edit(config, {"op": "add_point", "x": 1, "y": 1, "label": 0})
    edited, _ = apply_edit(edited, {"op": "add_point", "x": 2, "y": 1, "label": 1})
    assert trainer.apply_config(edited) is False  # no restart
    assert trainer.epoch == 5 and torch_equal(trainer.params, params)
    assert all(torch_equal(trainer.slots[name], value) for name, value in slots.items())
    assert len(trainer.dataset.x_train) + len(trainer.dataset.x_test) == 62
    frame = frames.build(trainer, False)
    assert len(frame["points"]["train"]) + len(frame["points"]["test"]) == 62
    assert frame["config"]["data"].startswith("62 points #")  # not the whole text each frame
    assert "points" not in frames.build(trainer, False)  # sent once
    assert train_epochs(trainer, 2) == 2 and trainer.epoch == 7


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_a_running_session_gets_the_edited_points_and_trains_on(monkeypatch):
    from playground.server import pool as pool_module
    from playground.server import session as session_module
    from playground.server.pool import Pool

    monkeypatch.setattr(session_module, "_janitor", object())  # no sweeping in a test
    pool = Pool(1, use_process=False)  # the worker in a thread of this process
    monkeypatch.setattr(pool_module, "_pool", pool)
    config = Config(n_points=40, hidden=(3,))
    session = session_module.start_session(config)
    try:
        session.step(4)
        session.wait_for(lambda s: s["epoch"] == 4 and session.members[0].points is not None, 30)
        edited, _ = apply_edit(config, {"op": "add_point", "x": 0, "y": 0, "label": 1})
        session.apply_config(edited)
        points = lambda: session.members[0].points  # noqa: E731
        session.wait_for(lambda s: len(points()["train"]) + len(points()["test"]) == 41, 30)
        session.step(2)
        snap = session.wait_for(lambda s: s["epoch"] == 6, 30)
        assert snap["generation"] == 0  # no restart: the same run went on
    finally:
        session.close()
        pool.close()


# -- the page's panel -------------------------------------------------------------------------
def panel_script():
    import streamlit as st

    from playground.engine.config.config import Config
    from playground.ui import own_data

    if "config" not in st.session_state:
        st.session_state["config"] = Config(n_points=40)
    upload = st.session_state.pop("test_upload", None)
    if upload is not None:
        own_data.apply_upload(upload, st.session_state.pop("test_upload_name", None))
    edit = st.session_state.pop("test_edit", None)
    if edit is not None:  # a click on the plot, as the page applies it
        from playground.engine.data.edits import apply_edit
        from playground.ui import visit
        edited, refusal = apply_edit(visit.config(), edit)
        if refusal is None:
            own_data.remember_data(visit.config())
            visit.commit(edited)
    own_data.own_data_section()


@pytest.fixture
def panel():
    at = AppTest.from_function(panel_script, default_timeout=30)
    at.session_state["own_data_open"] = True  # the expander draws its body only when open
    at.run()
    assert not at.exception
    return at


def upload(at: AppTest, data: bytes) -> AppTest:
    at.session_state["test_upload"] = data
    at.run()
    assert not at.exception, at.exception
    return at


def test_panel_bad_uploads_show_their_sentence_and_change_nothing(panel):
    before = panel.session_state["config"]
    for data, why in MALFORMED[:-4]:  # the last ones need the server's limits: above
        upload(panel, data)
        # shown as plain text: markdown characters come escaped
        assert plain(why) in panel.error[0].value and panel.session_state["config"] == before


def test_panel_upload_preview_undo_and_back(panel):
    generated = panel.session_state["config"]
    upload(panel, b"x,y,class\n" + b"".join(b"%d,%d,%d\n" % (i * 100, i % 6, i % 2)
                                            for i in range(12)))
    config = panel.session_state["config"]
    assert count_points(config.data) == 12 and not panel.error
    assert "x1 from 0..1100 to -5..5" in panel.info[0].value
    assert len(panel.table[0].value) == 10  # the preview
    panel.session_state["test_edit"] = {"op": "add_point", "x": 0, "y": 0, "label": 1}
    panel.run()
    assert count_points(panel.session_state["config"].data) == 13
    panel.button(key="own_data_undo_button").click().run()
    assert panel.session_state["config"] == config  # the click undone
    panel.button(key="own_data_undo_button").click().run()
    assert panel.session_state["config"] == generated  # the upload undone
    assert panel.button(key="own_data_undo_button").disabled


def test_panel_says_when_the_points_are_not_in_the_link(panel):
    upload(panel, b"".join(b"%f,%f,%d\n" % (i / 50 - 4, i % 7 - 3, i % 2) for i in range(300)))
    assert "leaves them out" in panel.caption[-1].value
    panel.button(key="own_data_generated").click().run()
    assert panel.session_state["config"].data == ""


def test_panel_shows_the_uploaded_header_as_written_not_as_markdown(panel):
    upload(panel, b"**x**,[y](http://a),class\n" + b"".join(b"%d,%d,%d\n" % (i, i % 6, i % 2)
                                                       for i in range(12)))
    caption = next(c.value for c in panel.caption if c.value.startswith("Read 12 points"))
    assert r"\*\*x\*\*, \[y\]\(http\:\/\/a\)" in caption


# -- every point keeps its set; drawn points train; float32 values; wide and UTF-16 files ----
def sets(config: Config) -> tuple[set, set]:
    data = points_dataset(config)
    return ({tuple(p) for p in data.x_train.tolist()}, {tuple(p) for p in data.x_test.tolist()})


@pytest.mark.parametrize("config", [Config(), Config(data=own(60)),
                                    Config(dataset="plane", data=own(60, "regression"))])
def test_an_edit_keeps_every_existing_point_in_its_set_and_a_drawn_point_trains(config):
    train, test = sets(config)
    value = {"value": 0.5} if config.task == "regression" else {"label": 1}
    edited, refusal = apply_edit(config, {"op": "add_point", "x": 0.123, "y": -4.5, **value})
    assert refusal is None and edited.show_test is False
    new_train, new_test = sets(edited)
    assert new_test == test and new_train == train | {(np.float32(0.123), np.float32(-4.5))}
    # erasing keeps the others' sets too
    erased, _ = apply_edit(edited, {"op": "erase_points", "x0": -6, "x1": 0, "y0": -6, "y1": 6})
    train_left, test_left = sets(erased)
    assert train_left == {p for p in new_train if p[0] > 0}
    assert test_left == {p for p in new_test if p[0] > 0}


def test_a_point_sent_to_the_test_set_is_a_test_point_and_shown():
    edited, _ = apply_edit(Config(), {"op": "add_point", "x": 1, "y": 2, "label": 0,
                                      "set": "test"})
    assert (1.0, 2.0) in sets(edited)[1] and edited.show_test is True
    _, refusal = apply_edit(Config(), {"op": "add_point", "x": 1, "y": 2, "label": 0,
                                       "set": "both"})
    assert refusal == "That edit was not understood and was ignored."


def test_a_new_training_ratio_or_seed_deals_own_points_again():
    config, _ = apply_edit(Config(data=own(60)), {"op": "add_point", "x": 1, "y": 2, "label": 0})
    for changed in (config.replace(train_ratio=70), config.replace(data_seed=5)):
        data = points_dataset(changed)
        test = ~train_mask(decode_points(config.data).x, changed.train_ratio / 100,
                           changed.data_seed)
        assert len(data.x_test) == test.sum()
        assert len(data.x_train) == round(61 * changed.train_ratio / 100)
    assert points_dataset(config.replace(train_ratio=50)).x_train.shape == (31, 2)


def test_data_without_a_test_point_or_a_training_point_is_refused():
    x = RNG.uniform(-BOX, BOX, (10, 2))
    for test, why in ((np.zeros(10, bool), "no test points"), (np.ones(10, bool), "no training")):
        text = encode_points(x, np.arange(10) % 2, "classification", test)
        config, warnings = Config.from_params({"data": text})
        assert config.data == "" and why in warnings[0]


def test_uploaded_values_train_and_download_as_float32():
    rows = "x1,x2,label\n-1.8994,0.1234567,0\n2.5,-3.75,1\n0.001,4.999999,0\n-5.5,5.9,1\n"
    config = Config()
    parsed = parse_csv(rows.encode(), config)
    expected = np.array([[-1.8994, 0.1234567], [2.5, -3.75], [0.001, 4.999999], [-5.5, 5.9]],
                        np.float32)
    np.testing.assert_array_equal(parsed.x, expected)  # exactly float32, no 16-bit grid
    used = config.replace(data=parsed.text)
    data = points_dataset(used)
    assert {tuple(p) for p in np.concatenate([data.x_train, data.x_test]).tolist()} == {
        tuple(p) for p in expected.tolist()}
    assert points_csv(used) == rows  # the same text comes back
    assert parsed.preview[0] == {"x1": -1.8994, "x2": 0.1234567, "label": 0}


@pytest.mark.parametrize("huge", [1e308, 1.7976931348623157e308])
def test_values_near_the_float64_limit_rescale_into_the_box(huge):
    rows = f"{-huge},0,0\n{huge},1,1\n0,2,0\n{huge / 2},3,1\n".encode()
    parsed = parse_csv(rows, Config())
    assert np.isfinite(parsed.x).all()
    np.testing.assert_allclose(parsed.x[:, 0], [-5, 5, 0, 2.5], atol=1e-6)
    assert "x1 from" in parsed.scaling and "to -5..5" in parsed.scaling
    values = parse_csv(f"0,0,{-huge}\n1,1,{huge}\n2,2,0\n3,3,1\n".encode(), Config(dataset="plane"))
    np.testing.assert_allclose(values.y, [-1, 1, 0, 0], atol=1e-6)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16_with_its_byte_order_mark_and_tabs_are_read(encoding):
    text = "x1\tx2\tlabel\r\n1.5\t2\t0\r\n2\t3\t1\r\n-1\t-2\t0\r\n0.5\t0.5\t1\r\n"
    data = text.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes the mark itself
        data = "\ufeff".encode(encoding) + data
    parsed = parse_csv(data, Config())
    assert parsed.header == ("x1", "x2", "label")
    np.testing.assert_array_equal(parsed.x, [[1.5, 2], [2, 3], [-1, -2], [0.5, 0.5]])


def test_tab_separated_utf8_with_commas_in_the_header_is_read():
    parsed = parse_csv(b"x, first\tx, second\tlabel\n1\t2\t0\n2\t3\t1\n-1\t-2\t0\n0\t1\t1\n",
                       Config())
    assert parsed.header == ("x, first", "x, second", "label") and len(parsed.x) == 4


def test_the_download_is_named_after_the_upload(panel):
    from playground.ui.own_data import NAME_KEY, download_name

    panel.session_state["test_upload_name"] = "my points.v2.csv"
    upload(panel, GOOD_ROWS.encode())
    config = panel.session_state["config"]
    assert download_name(config, panel.session_state[NAME_KEY]) == "my points.v2.csv"
    drawn, _ = apply_edit(Config(), {"op": "add_point", "x": 0, "y": 0, "label": 0})
    assert download_name(drawn, None) == "circle-drawn.csv"
    assert download_name(Config(dataset="moons"), "old.csv") == "moons.csv"  # generated
    panel.button(key="own_data_generated").click().run()
    assert NAME_KEY not in panel.session_state
