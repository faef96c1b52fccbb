"""Command line: train without a browser, or run the web server.

    python -m playground train --dataset spiral --hidden 8,8,8 --optimizer adam --epochs 500
    python -m playground serve --server.port 8501

Every Config field is an option, generated from the Config's own metadata, so
``--help`` can never disagree with the page or the URL.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from playground.engine.config.config import Config, ConfigError, parse_field
from playground.engine.config.text import plain_number
from playground.engine.data.own_csv import read_csv_file
from playground.engine.data.own_points import DataProblem
from playground.engine.train.group import train_seconds


def _config_option(parser: argparse.ArgumentParser, f: dataclasses.Field) -> None:
    meta = f.metadata
    default = getattr(Config(), f.name)
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
    extra = ""
    if meta["choices"]:
        extra = f" [{', '.join(meta['choices'])}]"
    else:
        lo, hi = Config.bound(f.name)  # this machine's limits, as the page has them
        if lo is not None:
            extra = f" [{plain_number(lo)}..{'' if hi is None else plain_number(hi)}]"

    def parse(text: str, name: str = f.name) -> object:
        try:
            return parse_field(name, text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a valid value: {text!r}") from None

    parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=parse,
                        metavar=f.name.upper(), default=argparse.SUPPRESS,
                        help=f"{meta['help']}{extra} (default: {shown})")


def _epochs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a number of epochs: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playground",
                                     description="Neural network playground, headless.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one configuration and print its metrics")
    train.add_argument("--epochs", type=_epochs, default=200,
                       help="epochs to train (default: 200)")
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--save-weights", metavar="PATH",
                       help="after training, write the weights to PATH (safetensors)")
    train.add_argument("--export-script", metavar="PATH",
                       help="write a standalone PyTorch script that reproduces this run "
                            "(--epochs epochs) to PATH")
    for f in dataclasses.fields(Config):
        if f.name != "data":  # own points come from a CSV file, not as encoded text
            _config_option(train, f)
    train.add_argument("--data", dest="data_file", metavar="CSV",
                       help=f"{Config.__dataclass_fields__['data'].metadata['help']}: a CSV "
                            "file of x1, x2 and a class (or a regression value) per row, "
                            "header optional")
    sub.add_parser("serve", add_help=False,
                   help="run the web server: `streamlit run app.py` with the HTTP server's "
                        "header and keep-alive timeouts; options go to streamlit run "
                        "(serve --server.port 8501)")
    return parser


def _progress(epoch: int, total: int, loss: float | None, out=None) -> None:
    out = out or sys.stderr  # looked up now: a default bound at import misses redirection
    width = 30
    filled = int(width * epoch / max(total, 1))
    loss_text = f"  loss {loss:.4f}" if loss is not None else ""
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {epoch}/{total}{loss_text}")
    out.flush()


def _write(path: str, data: bytes) -> str | None:
    """Write a file; the reason in one sentence if that failed."""
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        return f"could not write {path}: {error.strerror or error}."
    return None


def _prepare_exports(config: Config, args: argparse.Namespace) -> str | None:
    """Write --export-script (before training, so a refusal costs no time); a problem
    with it or with --save-weights's folder, in one sentence."""
    if args.save_weights and not Path(args.save_weights).resolve().parent.is_dir():
        return f"cannot save the weights to {args.save_weights}: its folder does not exist."
    if not args.export_script:
        return None
    from playground.engine.formats.script_export import pytorch_script

    try:
        script = pytorch_script(config, args.epochs)
    except ValueError as error:
        return str(error)
    return _write(args.export_script, script.encode("utf-8"))


def train_command(args: argparse.Namespace) -> int:
    from playground.engine.train.trainer import Trainer  # torch loads only when training

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
              if hasattr(args, f.name)}
    try:
        config = Config.from_values(values)
        config.validate()
    except (ConfigError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.data_file:
        try:
            own = read_csv_file(args.data_file, config)
        except DataProblem as problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        config = config.replace(data=own.text)
        if own.scaling and not args.quiet:
            print(own.scaling, file=sys.stderr)
    problem = _prepare_exports(config, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    trainer = Trainer(config)
    started = time.perf_counter()
    while trainer.epoch < args.epochs and not trainer.stopped:
        train_seconds(trainer, 0.1, max_epochs=args.epochs - trainer.epoch)
        if not args.quiet:
            _progress(trainer.epoch, args.epochs, trainer.metrics()["test_loss"])
    if not args.quiet:
        sys.stderr.write("\n")
    if args.save_weights:
        from playground.engine.formats.exports import weights_file

        problem = _write(args.save_weights, weights_file(config, trainer.params))
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
    metrics = trainer.metrics()
    metrics["seconds"] = round(time.perf_counter() - started, 3)
    metrics["config"] = config.to_params()
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            shown = f"{value:.4f}" if isinstance(value, float) else value
            print(f"{key:>13}: {shown}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # the rest is streamlit run's, its --help included
        from playground.ui.serve import serve  # Streamlit only when it serves

        return serve(argv[1:])
    args = build_parser().parse_args(argv)
    return {"train": train_command}[args.command](args)
