"""The figures' targets: one table row per figure, with pass or miss."""

from __future__ import annotations

from benchmarks.report import Row, at_least, below, dig, info


def rows(f: dict) -> list[Row]:
    out: list[Row] = []
    for opt, bound in (("sgd", 150), ("adam", 120)):
        out.append(at_least(f"Raw trainer, {opt} (default config, 1 thread)",
                            dig(f, "raw", opt, "epochs_per_s"), "epochs/s", bound))
        out.append(info(f"Raw autograd reference loop, {opt}",
                        dig(f, "raw", opt, "reference_epochs_per_s"), "epochs/s"))
    for size in (1, 8, 15, 30, 100):
        out.append(info(f"Group of {size} default sessions, one batched computation: "
                        "epochs/s per session", dig(f, "raw", "groups", size), "epochs/s"))
    out.append(below("A 16-point learning-rate sweep, one batched group: cost in sessions",
                     dig(f, "raw", "studies", "sweep16", "sessions_worth"), "sessions", 2,
                     "about one session"))
    out.append(info("A 16-point sweep: epochs/s per member",
                    dig(f, "raw", "studies", "sweep16", "epochs_per_s"), "epochs/s"))
    out.append(info("A 5-optimizer race, one group of five update rules: cost in sessions",
                    dig(f, "raw", "studies", "race5", "sessions_worth"), "sessions"))
    out.append(below("One session's frame (pictures, its message and all), worker CPU time",
                     dig(f, "raw", "sgd", "frame_build_ms"), "ms", 0.4, "≤ 0.4 (was 1.59)"))

    single = dig(f, "single", default={})
    page_rate = dig(single, "epochs_per_s_mean")
    raw_sgd = dig(f, "raw", "sgd", "epochs_per_s")
    out.append(at_least("Browser, 1 session: epochs/s seen on the page", page_rate, "epochs/s",
                        458, "≥ 458 (no lower than before)"))
    out.append(info("Browser, 1 session: epochs/s seen ÷ raw trainer",
                    page_rate / raw_sgd if page_rate and raw_sgd else None, ""))
    out.append(at_least("Browser, 1 session: page redraws/s", dig(single, "redraws_per_s_mean"),
                        "/s", 60, "≥ 60, the TF Playground's rate"))
    out.append(info("Browser, 1 session: the browser's display frames/s (no page redraws more)",
                    dig(single, "display_frames_per_s"), "/s"))
    for kind in ("workers", "server", "browser"):
        out.append(info(f"Browser, 1 session: CPU cores used by the {kind}",
                        dig(single, "cores_used", kind), "cores"))
    pauses = dig(f, "pause", "all_ms")
    out.append(below("Browser, 1 session: pause latency, worst of 20 tries",
                     max(pauses) if pauses else None, "ms", 100))
    out.append(below("Browser, 1 session: pause latency p95 (20 tries)",
                     dig(f, "pause", "p95_ms"), "ms", 60))
    app_tti = dig(f, "tti", "playground", "ready_s_median")
    bare_tti = dig(f, "tti", "bare", "ready_s_median")
    chart = dig(f, "tti", "playground", "chart_s_median")
    out.append(info("Time to interactive, playground (fresh context, median)", app_tti, "s"))
    out.append(info("Time to the first chart, playground (fresh context, median)", chart, "s"))
    out.append(info("Time to interactive, bare Streamlit page (median)", bare_tti, "s"))
    out.append(below("First visit: time to the first chart minus the bare page's",
                     chart - bare_tti if chart is not None and bare_tti is not None else None,
                     "s", 0.5, "≤ +0.5 (was +1.73)"))
    app_bytes, bare_bytes = (dig(f, "tti", name, "bytes_median") for name in ("playground", "bare"))
    out.append(below("First visit, playground: bytes received (decoded)",
                     app_bytes / 1e6 if app_bytes else None, "MB", 4.0, "≤ 4 (was 8.1)"))
    out.append(info("First visit, bare Streamlit page: bytes received (decoded)",
                    bare_bytes / 1e6 if bare_bytes else None, "MB"))
    for name, label in (("playground", "playground"), ("bare", "bare Streamlit page")):
        out.append(info(f"First visit, {label}: requests",
                        dig(f, "tti", name, "requests_median"), ""))

    out.append(at_least("30 real Chromium pages sharing the machine (Plotly in one): "
                        "epochs/s, slowest page", dig(f, "pages", "epochs_per_s", "min"),
                        "epochs/s", 60, "≥ 60 (was 5.5–8.5)"))
    out.append(info("30 real Chromium pages: epochs/s, the page drawing Plotly",
                    dig(f, "pages", "epochs_per_s", "plotly_page"), "epochs/s"))
    for count in (1, 30, 100):
        run = dig(f, "class", count, default={})
        name = f"{count} student{'s' if count > 1 else ''}"
        if count == 1:
            out.append(at_least(f"{name}: epochs/s", dig(run, "epochs_per_s", "min"),
                                "epochs/s", 270, "≥ 0.9 × 300"))
        elif count == 30:
            out.append(at_least(f"{name}: epochs/s, slowest student",
                                dig(run, "epochs_per_s", "min"), "epochs/s", 400,
                                "≥ 400 (was 271)"))
            out.append(info(f"{name}: epochs/s, mean", dig(run, "epochs_per_s", "mean"),
                            "epochs/s"))
            # what the 2 cores could give with nothing else to do: two groups of 15
            out.append(info(f"{name}: the machine's ceiling, a group of 15 a core with no "
                            "frames, server or students: epochs/s per session",
                            dig(f, "raw", "groups", 15), "epochs/s"))
            out.append(at_least(f"{name}: frames/s, slowest student",
                                dig(run, "frames_per_s", "min"), "/s", 10))
        else:
            out.append(at_least(f"{name}: students whose epochs advanced",
                                dig(run, "progressed"), "", count, f"all {count}"))
            out.append(at_least(f"{name}: epochs/s, slowest student",
                                dig(run, "epochs_per_s", "min"), "epochs/s", 60,
                                "≥ 60 (was 15)"))
            out.append(at_least(f"{name}: frames/s, slowest student",
                                dig(run, "frames_per_s", "min"), "/s", 10))
            refused = dig(run, "refusals")
            out.append(below(f"{name}: refused", len(refused) if refused is not None else None,
                             "", 1, "none"))
        if count > 1:
            bound = 200 if count == 30 else 300
            out.append(below(f"{name}: pause latency p95", dig(run, "pause_ms", "p95"), "ms",
                             bound))
            if count == 30:
                out.append(below(f"{name}: health check p99", dig(run, "health", "p99_ms"),
                                 "ms", 100))
            else:
                out.append(info(f"{name}: health check p99", dig(run, "health", "p99_ms"),
                                "ms"))
            out.append(info(f"{name}: CPU cores used by the server (all processes)",
                            dig(run, "cores_used", "server"), "cores"))
            out.append(info(f"{name}: CPU cores used by the simulated students themselves",
                            dig(run, "cores_used", "students"), "cores"))
    out.append(below("Memory per extra session (PSS, 100 students, Streamlit's share too)",
                     dig(f, "class", "mib_per_session_pss"), "MiB", 10))
    out.append(info("Server memory (PSS), idle with its workers",
                    dig(f, "class", "idle_memory_mib", "pss"), "MiB"))

    out.extend(room_rows(f))

    out.append(info("10 students playing, no attack: health check p99",
                    dig(f, "attacks", "baseline", "health", "p99_ms"), "ms"))
    for name, label in (("flood_messages", "100,000 messages/s on one stream"),
                        ("flood_unpaced", "as many messages as one client can send"),
                        ("huge_message", "a 10 MB message"),
                        ("many_watchers", "100 watchers on one token"),
                        ("bogus_tokens", "300 bogus tokens")):
        out.append(below(f"Flood, {label}: health check p99",
                         dig(f, "attacks", name, "health", "p99_ms"), "ms", 100))
        out.append(info(f"Flood, {label}: the 10 students' epochs/s during (before)",
                        _during_before(dig(f, "attacks", name, "students_epochs_per_s")), ""))
    kill = dig(f, "attacks", "kill_worker", default={})
    lost = [a["lost_s"] for a in kill.get("affected", []) if a.get("lost_s") is not None]
    out.append(below("Killed worker: training lost, worst of its sessions",
                     max(lost) if lost else None, "s", 2))
    out.append(at_least("Killed worker: its sessions told so on the page (of 10 students)",
                        kill.get("notified"), "", 1))
    return out


def _during_before(rates: dict | None) -> float | None:
    """Mean epochs/s during an attack as a share of before it."""
    during, before = dig(rates, "during", "mean"), dig(rates, "before", "mean")
    return during / before if during is not None and before else None


def room_rows(f: dict) -> list[Row]:
    """The class room's figures (benchmarks/room.py): 30 students, then 100."""
    out: list[Row] = []
    for count in (30, 100):
        run = dig(f, "room", count, default={})
        name = f"Room of {count}"
        if count == 30:
            out.append(at_least(f"{name}: students' epochs/s in the room ÷ without",
                                dig(run, "ratio"), "", 0.9))
        else:
            out.append(info(f"{name}: students' epochs/s in the room ÷ without",
                            dig(run, "ratio"), ""))
        out.append(at_least(f"{name}: tiles in the teacher's stream", dig(run, "tiles"), "",
                            count, f"all {count}"))
        gap = dig(run, "largest_tile_gap_s")
        if count == 30:
            out.append(below(f"{name}: longest a tile went without an update", gap, "s", 1.01,
                             "≤ 1"))
            out.append(below(f"{name}: a push reaches every student", dig(
                run, "push_reached_all_s"), "s", 2))
        else:
            out.append(info(f"{name}: longest a tile went without an update", gap, "s"))
            out.append(below(f"{name}: a push reaches every student", dig(
                run, "push_reached_all_s"), "s", 10, "< 10 (it works)"))
    return out
