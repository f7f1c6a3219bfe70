"""Image encoding throughput: cold vs cached, and one batch vs one image at a time.

The encoder is a SigLIP built from config with random weights: speed depends only on the
architecture, so a model of MedSigLIP-448's shape (So400m/14 vision tower at 448 px) measures
what the real checkpoint would. The text tower is kept small: it takes no part in image encoding.

    .venv/bin/python bench/bench_images.py --shape medsiglip --images 4
    .venv/bin/python bench/bench_images.py --shape base --images 16

Images are the bundled set's files (chest X-ray, dermatology, fundus, histopathology, DICOM).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from clinsim.scenarios.images import image_path
from clinsim.scenarios.sets import load_scenarios
from clinsim.tools.imaging.cache import EmbeddingCache, embed_files
from clinsim.tools.imaging.encoder import ImageEncoder
from clinsim.tools.imaging.testing import MEDSIGLIP_VISION, train_sentencepiece

SHAPES = {
    "medsiglip": MEDSIGLIP_VISION,
    # SigLIP base/16 at 224 px
    "base": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "image_size": 224,
        "patch_size": 16,
    },
    "tiny": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
    },
}


def build_encoder(vision: dict[str, int], batch_size: int, workdir: Path) -> ImageEncoder:
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor, SiglipTokenizer
    from transformers.models.siglip import SiglipImageProcessorPil

    tokenizer = SiglipTokenizer(vocab_file=str(train_sentencepiece(workdir / "spiece.model")))
    text = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 64,
        "bos_token_id": None,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(0)
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).eval()
    size = vision["image_size"]
    processor = SiglipProcessor(
        image_processor=SiglipImageProcessorPil(size={"height": size, "width": size}),
        tokenizer=tokenizer,
    )
    return ImageEncoder("bench", model, processor, batch_size=batch_size)


def bundled_image_files(count: int) -> list[Path]:
    by_modality: dict[str, list[Path]] = {}
    for scenario in load_scenarios(["images"]):
        for ref in scenario.case.images:
            path = image_path(ref, scenario.id)
            files = by_modality.setdefault(ref.modality or "", [])
            if path not in files:
                files.append(path)
    interleaved = [f for group in zip(*by_modality.values(), strict=False) for f in group]
    rest = [f for files in by_modality.values() for f in files if f not in interleaved]
    return (interleaved + rest)[:count]


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="base")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--repeat", type=int, default=1, help="Alternate the cold runs this often; keep the best."
    )
    args = parser.parse_args()
    files = bundled_image_files(args.images)
    n = len(files)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        encoder = build_encoder(SHAPES[args.shape], args.batch_size, workdir)
        build_s = time.perf_counter() - started
        params = sum(p.numel() for p in encoder.model.vision_model.parameters()) / 1e6
        print(f"shape={args.shape} vision params={params:.0f}M images={n} "
              f"batch_size={args.batch_size} threads={torch.get_num_threads()} "
              f"(model built in {build_s:.1f} s)")  # fmt: skip
        embed_files(encoder, EmbeddingCache(), files[:1])  # warm-up, not counted

        one_s = batch_s = float("inf")
        for attempt in range(args.repeat):
            one = timed(lambda: [embed_files(encoder, EmbeddingCache(), [f]) for f in files])
            disk = EmbeddingCache(workdir / f"cache{attempt}")
            batch = timed(lambda: embed_files(encoder, disk, files))  # noqa: B023
            one_s, batch_s = min(one_s, one), min(batch_s, batch)
        memory_s = timed(lambda: embed_files(encoder, disk, files))
        disk_s = timed(lambda: embed_files(encoder, EmbeddingCache(disk.directory), files))
    print(f"best of {args.repeat} for the cold rows")
    rows = [
        ("cold, one image at a time", one_s),
        (f"cold, batched ({args.batch_size} per forward pass)", batch_s),
        ("cached in memory", memory_s),
        ("cached on disk (new process)", disk_s),
    ]
    for name, seconds in rows:
        print(f"{name:40s} {n / seconds:10.2f} images/s   ({seconds * 1000 / n:9.1f} ms/image)")


if __name__ == "__main__":
    main()
