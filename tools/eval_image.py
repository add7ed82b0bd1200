"""Rate-distortion evaluation of the image codec on Kodak, with baselines in the same run.

    python tools/eval_image.py [--kodak ../shared/data/image/kodak] [--out out/eval_image]
                               [--limit N] [--no-speed] [--refine N [--refine-from Q]]

Ours: real files from ``codec.encode`` (bpp = file bytes * 8 / pixels, container included),
decoded with ``codec.decode``; with ``--refine N`` also "ours + refine N" (encoder-side latent
refinement, same decoder; with ``--refine-from Q`` only at qualities Q and up, the plain
encode below, named "ours + refine N from qQ"). Baselines on the same images: JPEG, WebP,
AVIF (Pillow) and JPEG-XL (imagecodecs), each over a quality sweep. Published anchors from
../shared/anchors/compressai-kodak. Writes CompressAI-style JSON per codec, an RD plot
(rd_psnr.png, rd_msssim.png) and prints markdown tables (RD points, BD-rates, speed).
Speed: encode/decode seconds per image for ours and, with random weights, CompressAI's
mbt2018 (serial autoregressive context) and Elic2022Official at the same image size.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.bd_rate import bd_rate, msssim_db, rate_ratio  # noqa: E402

ANCHORS = {
    "VTM": "vtm.json",
    "BPG (x265 4:4:4)": "bpg_444_x265_ycbcr.json",
    "mbt2018-mean (CompressAI)": "compressai-mbt2018-mean_mse_cpu.json",
    "ELIC (paper)": "paper-elic2022_mse.json",
}
SWEEPS = {
    "JPEG": (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
    "WebP": (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
    "AVIF": (10, 20, 30, 40, 50, 60, 70, 80, 90),
    "JPEG-XL": (10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    from pytorch_msssim import ms_ssim as msssim

    ta, tb = (torch.from_numpy(np.array(v)).permute(2, 0, 1)[None].float() for v in (a, b))
    return float(msssim(ta, tb, data_range=255))


def baseline_roundtrip(name: str, image: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    if name == "JPEG-XL":
        import imagecodecs

        data = imagecodecs.jpegxl_encode(image, level=quality, effort=7)
        return len(data), imagecodecs.jpegxl_decode(data)
    fmt = {"JPEG": "JPEG", "WebP": "WEBP", "AVIF": "AVIF"}[name]
    buffer = io.BytesIO()
    options = {"subsampling": "4:2:0"} if fmt == "JPEG" else {}
    Image.fromarray(image).save(buffer, format=fmt, quality=quality, **options)
    data = buffer.getvalue()
    return len(data), np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


WEIGHTS: Path | None = None  # --weights: evaluate another weights file than the shipped one


def image_codec_under_test():
    from models.image.codec import WEIGHTS as SHIPPED
    from models.image.codec import ImageCodec

    return ImageCodec(WEIGHTS or SHIPPED)


def encode_to_container(image_codec, image: np.ndarray, quality: int, refine: int = 0) -> bytes:
    """Real container bytes (what ``codec encode`` writes) for ``image`` at ``quality``."""
    from codec.container import container_bytes
    from codec.registry import EncodeOptions

    encoded = image_codec.encode(image, EncodeOptions(quality=quality, refine=refine or None))
    return container_bytes(
        "image", image_codec.codec_id, encoded.chunks, encoded.metadata, encoded.weights_id
    )


def ours_roundtrip(
    image: np.ndarray, quality: int, refine: int = 0
) -> tuple[int, np.ndarray, float, float]:
    """Real container bytes and decoded image through the image codec (and its timings)."""
    from codec.container import ContainerReader
    from codec.registry import DecodeOptions

    image_codec = image_codec_under_test()
    start = time.perf_counter()
    blob = encode_to_container(image_codec, image, quality, refine)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    reader = ContainerReader(blob)
    decoded = image_codec.decode(reader.header, reader.iter_chunks(), DecodeOptions())
    return len(blob), decoded, encode_s, time.perf_counter() - start


def preview(images: list[np.ndarray]) -> None:
    """PSNR and bytes read when decoding only the first k channel groups (default quality)."""
    from codec.container import ContainerReader
    from models.image.codec import DEFAULT_QUALITY as quality

    image_codec = image_codec_under_test()
    groups = image_codec._model()[0].groups
    rows = np.zeros((len(groups) + 1, 3))
    for image in images:
        reader = ContainerReader(encode_to_container(image_codec, image, quality))
        for k in range(len(groups) + 1):
            start = time.perf_counter()
            decoded = image_codec.decode_preview(reader.header, reader.iter_chunks(), k)
            seconds = time.perf_counter() - start
            used = reader.header.chunks[k].offset + reader.header.chunks[k].length
            pixels = image.shape[0] * image.shape[1]
            rows[k] += (8 * used / pixels, psnr(image, decoded), seconds)
    rows /= len(images)
    print(f"\n## Preview decode (quality {quality}, groups {groups})\n")
    print("| groups decoded | channels | bpp read | PSNR-RGB dB | decode s |")
    print("|---:|---:|---:|---:|---:|")
    for k, (bpp, value, seconds) in enumerate(rows):
        print(f"| {k} | {sum(groups[:k])} | {bpp:.4f} | {value:.2f} | {seconds:.3f} |")


def ours_names(refine: int, refine_from: int) -> list[str]:
    """Result names of our curves: plain, and with ``refine`` steps of latent refinement at
    qualities ``refine_from`` and up."""
    suffix = f" from q{refine_from}" if refine_from > 1 else ""
    return ["ours", *([f"ours + refine {refine}{suffix}"] if refine else [])]


def json_name(name: str) -> str:
    return name.lower().replace(" + ", "_").replace(" ", "_") + ".json"


def evaluate(
    images: list[np.ndarray],
    names: list[str],
    ours_only: bool,
    refine: int,
    refine_from: int,
) -> dict[str, dict]:
    from models.image.codec import QUALITIES

    ours = [(name, QUALITIES) for name in ours_names(refine, refine_from)]
    results, ours_done = {}, {}  # ours_done: (image, quality, steps) -> ours_roundtrip
    for codec_name, settings in [*ours, *([] if ours_only else SWEEPS.items())]:
        points = {"bpp": [], "psnr-rgb": [], "ms-ssim": [], "encoding_time": [],
                  "decoding_time": []}  # fmt: skip
        per_image = {}
        for setting in settings:
            rows = []
            for image, name in zip(images, names, strict=True):
                pixels = image.shape[0] * image.shape[1]
                if codec_name.startswith("ours"):
                    refined = codec_name != "ours" and setting >= refine_from
                    steps = refine if refined else 0
                    key = (name, setting, steps)  # the encoder is deterministic: reuse
                    if key not in ours_done:
                        ours_done[key] = ours_roundtrip(image, setting, steps)
                    size, decoded, t_enc, t_dec = ours_done[key]
                else:
                    (size, decoded), t_enc, t_dec = (
                        baseline_roundtrip(codec_name, image, setting),
                        0,
                        0,
                    )
                rows.append((8 * size / pixels, psnr(image, decoded), ms_ssim(image, decoded),
                             t_enc, t_dec))  # fmt: skip
                per_image.setdefault(name, []).append(rows[-1][:3])
            mean = np.mean(rows, axis=0)
            for key, value in zip(points, mean, strict=True):
                points[key].append(float(value))
            print(f"{codec_name} q={setting}: {mean[0]:.3f} bpp {mean[1]:.2f} dB", flush=True)
        results[codec_name] = {"name": codec_name, "settings": list(settings),
                               "results": points, "per_image": per_image}  # fmt: skip
    return results


def load_anchors(folder: Path) -> dict[str, dict]:
    anchors = {}
    for label, file in ANCHORS.items():
        path = folder / file
        if path.exists():
            data = json.loads(path.read_text())["results"]
            anchors[label] = {"name": label, "results": data}
    return anchors


def report(results: dict, anchors: dict, out: Path) -> None:
    variants = [name for name in results if name.startswith("ours")]
    for variant in variants:
        ours = results[variant]["results"]
        print(f"\n## {variant}, Kodak averages\n")
        print("| quality | bpp | PSNR-RGB dB | MS-SSIM | enc s | dec s |")
        print("|---:|---:|---:|---:|---:|---:|")
        for i, q in enumerate(results[variant]["settings"]):
            print(f"| {q} | {ours['bpp'][i]:.4f} | {ours['psnr-rgb'][i]:.3f} | "
                  f"{ours['ms-ssim'][i]:.5f} | {ours['encoding_time'][i]:.3f} | "
                  f"{ours['decoding_time'][i]:.3f} |")  # fmt: skip
    print("\n## BD-rate of ours vs each reference (negative = ours smaller)\n")
    print("| reference | " + " | ".join(f"{v} PSNR | {v} MS-SSIM" for v in variants) + " |")
    print("|---|" + "---:|---:|" * len(variants))
    references = [*((k, v) for k, v in results.items() if k not in variants), *anchors.items()]
    references += [(v, results[v]) for v in variants[:-1]]  # refined vs plain
    for label, ref in references:
        r, cells = ref["results"], []
        for variant in variants:
            ours = results[variant]["results"]
            psnr_bd = bd_rate(ours["bpp"], ours["psnr-rgb"], r["bpp"], r["psnr-rgb"])
            ms_bd = float("nan")
            if "ms-ssim" in r:
                ms_bd = bd_rate(
                    ours["bpp"], msssim_db(ours["ms-ssim"]), r["bpp"], msssim_db(r["ms-ssim"])
                )
            cells += [f"{psnr_bd:+.2f}%", f"{ms_bd:+.2f}%"] if variant != label else ["-", "-"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    rate_ratios(results, variants[0])
    plot(results, anchors, out)


def rate_ratios(results: dict, variant: str) -> None:
    """Per quality of ``variant``: its rate / each baseline's rate at the same PSNR (where
    along the curve the BD-rates come from; blank outside the baseline's PSNR range)."""
    baselines = [name for name in results if not name.startswith("ours")]
    if not baselines:
        return
    ours = results[variant]["results"]
    columns = {
        name: rate_ratio(
            ours["bpp"],
            ours["psnr-rgb"],
            results[name]["results"]["bpp"],
            results[name]["results"]["psnr-rgb"],
        )
        for name in baselines
    }
    print(f"\n## Rate of {variant} / baseline's rate at the same PSNR, per quality\n")
    print("| quality | PSNR-RGB dB | " + " | ".join(baselines) + " |")
    print("|---:|---:|" + "---:|" * len(baselines))
    for i, q in enumerate(results[variant]["settings"]):
        cells = ["" if math.isnan(c[i]) else f"{c[i]:.3f}" for c in columns.values()]
        print(f"| {q} | {ours['psnr-rgb'][i]:.3f} | " + " | ".join(cells) + " |")


def plot(results: dict, anchors: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for metric, ylabel, transform, filename in (
        ("psnr-rgb", "PSNR-RGB (dB)", np.asarray, "rd_psnr.png"),
        ("ms-ssim", "MS-SSIM (dB)", msssim_db, "rd_msssim.png"),
    ):
        fig, ax = plt.subplots(figsize=(7, 5))
        for label, data in [*results.items(), *anchors.items()]:
            r = data["results"]
            if metric in r:
                mine = label.startswith("ours")
                ax.plot(
                    r["bpp"],
                    transform(r[metric]),
                    "o-" if mine else ".--",
                    label=label,
                    linewidth=2 if mine else 1,
                )
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0, 1.6)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"Kodak (24 images): {ylabel}")
        fig.tight_layout()
        fig.savefig(out / filename, dpi=110)
        plt.close(fig)


SPEED_RUNS = 3


def median_seconds(step, runs: int = SPEED_RUNS) -> tuple[float, float]:
    """Median (encode s, decode s) of ``runs`` calls of ``step() -> (encode s, decode s)``."""
    times = np.array([step() for _ in range(runs)])
    return tuple(np.median(times, axis=0).tolist())


def speed(image: np.ndarray) -> None:
    """Seconds per image, median of SPEED_RUNS runs each: ours vs CompressAI mbt2018 /
    Elic2022Official (random weights)."""
    import compressai.models as zoo

    torch.set_num_threads(2)
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255
    from models.image.codec import DEFAULT_QUALITY

    t_enc, t_dec = median_seconds(lambda: ours_roundtrip(image, DEFAULT_QUALITY)[2:])
    rows = [(f"ours (quality {DEFAULT_QUALITY})", t_enc, t_dec)]
    for label, model in (
        ("CompressAI mbt2018 (q3, serial AR)", zoo.JointAutoregressiveHierarchicalPriors(192, 192)),
        ("CompressAI Elic2022Official", zoo.Elic2022Official()),
    ):
        model.eval()
        model.update(force=True)

        def roundtrip(model=model) -> tuple[float, float]:
            with torch.no_grad():
                start = time.perf_counter()
                compressed = model.compress(x)
                t_enc = time.perf_counter() - start
                start = time.perf_counter()
                model.decompress(compressed["strings"], compressed["shape"])
                return t_enc, time.perf_counter() - start

        rows.append((label, *median_seconds(roundtrip)))
    print(
        f"\n## Speed, {image.shape[1]}x{image.shape[0]} image, 2 threads, median of {SPEED_RUNS}\n"
    )
    print("| model | encode s | decode s | decode vs ours |\n|---|---:|---:|---:|")
    for label, t_enc, t_dec in rows:
        print(f"| {label} | {t_enc:.3f} | {t_dec:.3f} | {t_dec / rows[0][2]:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kodak", type=Path, default=ROOT.parent / "shared/data/image/kodak")
    parser.add_argument(
        "--anchors", type=Path, default=ROOT.parent / "shared/anchors/compressai-kodak"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out/eval_image")
    parser.add_argument("--limit", type=int, default=0, help="use the first N images only")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--ours-only", action="store_true", help="skip the baselines")
    parser.add_argument(
        "--from-json", action="store_true", help="reuse the RD results already in --out"
    )
    parser.add_argument("--weights", type=Path, help="image weights to evaluate (default: shipped)")
    parser.add_argument("--refine", type=int, default=0, help="also ours with N refinement steps")
    parser.add_argument(
        "--refine-from", type=int, default=1, help="refine at qualities Q and up only (default 1)"
    )
    args = parser.parse_args()
    global WEIGHTS
    WEIGHTS = args.weights
    torch.set_num_threads(2)
    paths = sorted(args.kodak.glob("*.png"))[: args.limit or None]
    if not paths:
        raise SystemExit(f"no Kodak images in {args.kodak}")
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        names = [*ours_names(args.refine, args.refine_from), *([] if args.ours_only else SWEEPS)]
        results = {n: json.loads((args.out / json_name(n)).read_text()) for n in names}
    else:
        results = evaluate(
            images, [p.stem for p in paths], args.ours_only, args.refine, args.refine_from
        )
        for name, data in results.items():
            (args.out / json_name(name)).write_text(json.dumps(data, indent=1))
    report(results, load_anchors(args.anchors), args.out)
    preview(images)
    if not args.no_speed:
        speed(images[0])


if __name__ == "__main__":
    main()
