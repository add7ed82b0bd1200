"""The ``codec`` command line: encode, decode, info, bench.

Errors a user can cause print one line (``error: ...``) and exit with code 2. Heavy modules
(numpy, constriction, torch) are imported inside the commands that need them, so ``codec info``
and ``codec --help`` start fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from codec import __version__
from codec.errors import CodecError

KIND_NAMES = ("raw", "image", "video", "audio", "lossless", "checkpoint")


def _friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn package errors into one line on stderr and exit code 2 (OSError: exit code 1)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CodecError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:
            click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codec")
def main() -> None:
    """Neural compression codecs: image, video, audio, lossless, checkpoints, raw bytes."""


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(KIND_NAMES), help="Media kind (default: detected).")
@click.option("--quality", type=int, help="Quality level of lossy codecs (higher is better).")
@click.option("--bitrate", type=float, help="Target bitrate in kbit/s (audio).")
@click.option(
    "--mode", help="Codec variant (audio: rvq [default] or fsq; video: hyper [default] or nerv)."
)
@click.option("--epochs", type=int, help="Video nerv mode: fitting passes per segment [30].")
@click.option("--time-limit", type=float, help="Video nerv mode: seconds of fitting in all.")
@click.option(
    "--refine",
    type=int,
    help=(
        "Encoder-side refinement steps [0]: image latents (pays at --quality 7-9; ~1 s per step"
        " for 768x512 on 2 cores), video hyper-mode weights per segment."
    ),
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="Checkpoints: code SRC against this earlier checkpoint (decode needs it too).",
)
@click.option(
    "--max-error",
    type=float,
    help="Checkpoints: near-lossless; parameter error bound, relative to each tensor's RMS.",
)
@click.option(
    "--state-error",
    type=float,
    help="Checkpoints, near-lossless: bound for optimizer moments [10 x --max-error, <= 0.5].",
)
@click.option(
    "--series", is_flag=True, help="Checkpoints: SRC and DST are folders of a training run."
)
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
@_friendly_errors
def encode(
    src: Path,
    dst: Path,
    kind: str | None,
    quality: int | None,
    bitrate: float | None,
    mode: str | None,
    epochs: int | None,
    time_limit: float | None,
    refine: int | None,
    device: str,
    reference: Path | None,
    max_error: float | None,
    state_error: float | None,
    series: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Encode the media file (or folder of PNG video frames) SRC into the codec file DST."""
    progress = not quiet and sys.stderr.isatty()
    if max_error is not None and state_error is None:
        state_error = min(0.5, 10 * max_error)
    if series:
        from codec.series import encode_series

        if reference is not None or kind not in (None, "checkpoint"):
            raise click.UsageError("--series codes checkpoint folders; it takes no --reference")
        for report in encode_series(src, dst, max_error=max_error, force=force, progress=progress):
            if not quiet:
                _echo_encode(report.output, report)
        return
    from codec.api import encode_file

    report = encode_file(
        src,
        dst,
        kind=kind,
        quality=quality,
        bitrate=bitrate,
        device=device,
        reference=reference,
        max_error=max_error,
        state_error=state_error,
        mode=mode,
        epochs=epochs,
        time_limit=time_limit,
        refine=refine,
        force=force,
        progress=progress,
    )
    if not quiet:
        _echo_encode(f"{src} -> {dst}", report)


def _echo_encode(what: str, report: Any) -> None:
    ratio = report.input_bytes / report.output_bytes if report.output_bytes else 0.0
    click.echo(
        f"{what}: {report.kind} ({report.codec_id}), "
        f"{_human(report.input_bytes)} -> {_human(report.output_bytes)} "
        f"(ratio {ratio:.2f}x) in {report.seconds:.2f} s"
    )


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="Checkpoints: the checkpoint SRC was coded against.",
)
@click.option("--series", is_flag=True, help="Checkpoints: SRC and DST are folders.")
@click.option(
    "--salvage", is_flag=True, help="Video: decode the intact segments of a damaged file."
)
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
@_friendly_errors
def decode(
    src: Path,
    dst: Path,
    reference: Path | None,
    series: bool,
    salvage: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Decode the codec file SRC into the media file DST."""
    progress = not quiet and sys.stderr.isatty()
    if series:
        from codec.series import decode_series

        if salvage:
            raise click.UsageError("--salvage applies to video files, not to --series")
        reports = decode_series(src, dst, force=force, progress=progress)
    else:
        from codec.api import decode_file

        reports = [
            decode_file(
                src, dst, reference=reference, salvage=salvage, force=force, progress=progress
            )
        ]
    for report in reports:
        if report.damaged:
            click.echo(f"warning: {src}: {report.damaged}; decoded what was intact", err=True)
        if not quiet:
            click.echo(
                f"{src} -> {report.output}: {report.kind} ({report.codec_id}), "
                f"{_human(report.output_bytes)} in {report.seconds:.2f} s"
            )


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@_friendly_errors
def info(path: Path, as_json: bool) -> None:
    """Show the header of a codec file (fast: reads only the header)."""
    from codec.api import info as read_info

    header = read_info(path)
    metadata = {
        key: value.hex() if isinstance(value, bytes) else value
        for key, value in header.metadata.items()
    }
    if as_json:
        fields = {
            "format_version": header.version,
            "kind": header.kind,
            "codec_id": header.codec_id,
            "weights_id": header.weights_id,
            "metadata": metadata,
            "header_bytes": header.payload_offset,
            "chunks": [[c.offset, c.length, f"{c.crc32:08x}"] for c in header.chunks],
            "total_bytes": header.total_size,
        }
        click.echo(json.dumps(fields, indent=2))
        return
    click.echo(f"file:        {path} ({header.total_size} bytes)")
    click.echo(f"format:      version {header.version}")
    click.echo(f"kind:        {header.kind}")
    click.echo(f"codec:       {header.codec_id}")
    click.echo(f"weights:     {header.weights_id or '-'}")
    for key, value in metadata.items():
        click.echo(f"  {key}: {value}")
    payload = header.total_size - header.payload_offset
    click.echo(
        f"chunks:      {len(header.chunks)} ({payload} payload bytes,"
        f" header {header.payload_offset} bytes)"
    )


@main.command()
@click.option("--symbols", default=1_000_000, show_default=True, help="Symbols per family.")
@click.option("--seed", default=0, show_default=True)
@click.option("--repeats", default=3, show_default=True, help="Timing runs (best is kept).")
@_friendly_errors
def bench(symbols: int, seed: int, repeats: int) -> None:
    """Benchmark the entropy layer: bits/symbol, overhead and throughput per family."""
    from codec.bench import format_table, run_entropy_benchmark

    click.echo(format_table(run_entropy_benchmark(symbols, seed, repeats)))


if __name__ == "__main__":
    main()
