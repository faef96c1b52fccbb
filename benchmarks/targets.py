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
        out.append(info(f"Speed-up over the reference, {opt}", dig(f, "raw", opt, "speedup"), "×"))

    single = dig(f, "concurrency", "runs", 1, default={})
    page_rate = dig(single, "epochs_per_s_mean")
    raw_sgd = dig(f, "raw", "sgd", "epochs_per_s")
    out.append(at_least("Page epochs/s (1 session, t = 2…12 s)", page_rate, "epochs/s", 120))
    out.append(at_least("Page epochs/s ÷ raw sgd", page_rate / raw_sgd
                        if page_rate is not None and raw_sgd else None, "", 0.8))
    out.append(at_least("Page redraws/s (1 session)", dig(single, "redraws_per_s_mean"),
                        "/s", 30))
    for kind in ("trainers", "server", "browser"):
        out.append(info(f"1 session: CPU cores used by {kind.replace('_', ' ')}",
                        dig(single, "cores_used", kind), "cores"))
    out.append(info("Pause latency p50 (1 session, 20 tries)", dig(f, "pause", "p50_ms"), "ms"))
    out.append(below("Pause latency p95 (1 session, 20 tries)", dig(f, "pause", "p95_ms"),
                     "ms", 200))
    out.append(info("…click until the button says Play again (Streamlit rerun), p50",
                    dig(f, "pause", "label_p50_ms"), "ms"))
    out.append(info("…click until the button says Play again, p95",
                    dig(f, "pause", "label_p95_ms"), "ms"))

    app_tti = dig(f, "tti", "playground", "ready_s_median")
    bare_tti = dig(f, "tti", "bare", "ready_s_median")
    out.append(info("Time to interactive, playground (fresh context, median)", app_tti, "s"))
    out.append(info("Time to interactive, bare Streamlit page (median)", bare_tti, "s"))
    out.append(below("Time to interactive, playground − bare", app_tti - bare_tti
                     if app_tti is not None and bare_tti is not None else None, "s", 1.0,
                     "≤ 1 s"))
    out.append(info("…of which until the play button shows (script started)",
                    dig(f, "tti", "playground", "button_s_median"), "s"))
    out.append(info("…until the live view shows", dig(f, "tti", "playground", "live_s_median"),
                    "s"))
    out.append(info("Time to first live frame, playground (median)",
                    dig(f, "tti", "playground", "first_frame_s_median"), "s"))

    scale = dig(f, "scaling", "runs", default={})
    for count, bound in ((2, 0.8), (4, 0.4), (8, None)):
        rel = dig(scale, count, "relative")
        name = f"Server-side, {count} sessions: epochs/s per session ÷ single"
        out.append(at_least(name, rel, "", bound) if bound else info(name, rel, ""))
        out.append(info(f"Server-side, {count} sessions: epochs/s per session (mean)",
                        dig(scale, count, "mean"), "epochs/s"))
    pauses = dig(scale, 8, "pause_ms", default=[])
    out.append(below("Server-side, 8 sessions: pause until the trainer stopped, max",
                     max(pauses) if pauses else None, "ms", 500))

    runs = dig(f, "concurrency", "runs", default={})
    for count in (2, 4, 8):
        rel = dig(runs, count, "relative_epochs")
        out.append(info(f"{count} browser sessions on the same 2 cores: epochs/s ÷ single",
                        rel, ""))
        out.append(info(f"{count} sessions: epochs/s per session (mean)",
                        dig(runs, count, "epochs_per_s_mean"), "epochs/s"))
        out.append(info(f"{count} sessions: redraws/s per session ÷ single",
                        dig(runs, count, "relative_redraws"), ""))
    for kind in ("trainers", "browser"):
        out.append(info(f"8 sessions: CPU cores used by {kind}",
                        dig(runs, 8, "cores_used", kind), "cores"))
    out.append(info("8 browser sessions on the same 2 cores: pause latency p95",
                    dig(runs, 8, "pause", "p95_ms"), "ms"))
    out.append(info("Server memory (RSS, tree), idle",
                    dig(f, "concurrency", "summary", "idle_memory_mib", "rss"), "MiB"))
    for count in (1, 8):
        out.append(info(f"Server memory (RSS, tree), {count} session(s)",
                        dig(runs, count, "memory_mib", "rss"), "MiB"))
    # RSS counts the torch pages every trainer shares with the forkserver once per
    # trainer; PSS splits shared pages fairly, so it is what an extra session costs
    out.append(info("Memory per extra session (RSS, shared pages counted per process)",
                    dig(f, "concurrency", "summary", "mib_per_extra_session_rss"), "MiB"))
    out.append(below("Memory per extra session (PSS, shared pages split)",
                     dig(f, "concurrency", "summary", "mib_per_extra_session_pss"), "MiB", 150))
    out.append(info("Memory held by one trainer alone (USS, 8 sessions)",
                    dig(runs, 8, "memory_mib", "trainer_uss_mean"), "MiB"))
    cleanup = dig(runs, 8, "cleanup_s")
    row = below("Trainers gone after closing 8 sessions", cleanup, "s", 30, "≤ 30 s")
    if dig(runs, 8, "cleanup_samples") and cleanup is None:
        # measured, and some were still alive when the harness gave up waiting
        row.value, row.passed = runs[8]["cleanup_samples"][-1][0], False
    out.append(row)
    return out
