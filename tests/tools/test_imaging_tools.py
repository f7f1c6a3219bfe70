"""The imaging tools on a tiny random SigLIP checkpoint built offline, through the real
AutoModel/AutoProcessor path: probabilities, cache, batching, retrieval, errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from players import tool
from transformers import AutoModel, AutoProcessor

from clinsim.scenarios.images import image_path
from clinsim.scenarios.model import Case, ImageRef
from clinsim.scenarios.sets import load_scenarios
from clinsim.tools.base import BaseTool, ToolContext, ToolError
from clinsim.tools.imaging import load_image
from clinsim.tools.imaging.cache import EmbeddingCache, embed_files
from clinsim.tools.imaging.encoder import MEDSIGLIP, ImageEncoder, ImageModelError
from clinsim.tools.imaging.testing import build_tiny_siglip
from clinsim.tools.imaging.vocabularies import VOCABULARIES

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "images"
CXR = DATA / "chest-xray" / "48c4542c.jpg"
SKIN = DATA / "dermatology" / "PAT_995_1867_5.jpg"


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_siglip(tmp_path_factory.mktemp("siglip"))


@pytest.fixture(scope="module")
def encoder(siglip_dir: Path) -> ImageEncoder:
    return ImageEncoder.load(str(siglip_dir), device="cpu")


@dataclass
class Reading:
    """One episode's tool context, and the imaging tools of a run given `--image-model`."""

    ctx: ToolContext
    image_model: str | None

    @property
    def resources(self) -> dict[str, Any]:
        return self.ctx.resources

    def tool(self, name: str) -> BaseTool:
        return tool(name, image_model=self.image_model)

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return await self.tool(name).call(arguments, self.ctx)

    def available(self, name: str) -> bool:
        return self.tool(name).available(self.ctx)


def context(siglip_dir: Path | None, images: list[ImageRef]) -> Reading:
    ctx = ToolContext("t/1", Case(objective="read", images=images))
    return Reading(ctx, str(siglip_dir) if siglip_dir else None)


def refs() -> list[ImageRef]:
    return [
        ImageRef(id="image-1", path=str(CXR), modality="chest-xray"),
        ImageRef(id="image-2", path=str(SKIN), modality="dermatology"),
        ImageRef(id="image-3", path="pydicom:ct", modality="ct"),
    ]


def by_hand(siglip_dir: Path, image: Path, labels: list[str]) -> np.ndarray:
    """sigmoid(exp(scale) * cos + bias) from the raw model, independently of the tool."""
    model = AutoModel.from_pretrained(siglip_dir).eval()
    processor = AutoProcessor.from_pretrained(siglip_dir)
    pixels = processor(images=[load_image(image)], return_tensors="pt")["pixel_values"]
    text = processor(text=labels, padding="max_length", max_length=64, return_tensors="pt")
    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels).pooler_output
        txt = model.get_text_features(**text).pooler_output
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        probs = torch.sigmoid(model.logit_scale.exp() * img @ txt.T + model.logit_bias)
        forward = model(pixel_values=pixels, **text).logits_per_image.sigmoid()
    assert torch.allclose(probs, forward, atol=1e-5)  # the same maths as SiglipModel
    return probs[0].numpy()


async def test_read_image_probabilities_match_hand_computation(siglip_dir: Path) -> None:
    labels = ["pneumonia", "normal chest x-ray", "cardiomegaly", "pleural effusion"]
    result = await context(siglip_dir, refs()).call(
        "read_image", {"image_id": "image-1", "labels": labels}
    )
    expected = dict(zip(labels, by_hand(siglip_dir, CXR, labels), strict=True))
    findings = result.data["findings"]
    assert [f["label"] for f in findings] == sorted(labels, key=lambda x: -expected[x])
    for finding in findings:
        assert finding["probability"] == pytest.approx(expected[finding["label"]], abs=1e-4)
    assert result.images == ["image-1"]
    assert result.error is None and "image-1" in result.text


async def test_read_image_default_vocabulary_for_the_modality(siglip_dir: Path) -> None:
    result = await context(siglip_dir, refs()).call("read_image", {"image_id": "image-2"})
    findings = result.data["findings"]
    assert len(findings) == 5
    assert {f["label"] for f in findings} <= set(VOCABULARIES["dermatology"])
    probabilities = [f["probability"] for f in findings]
    assert probabilities == sorted(probabilities, reverse=True)
    assert "dermatology" in result.data["labels_source"]


async def test_read_image_accepts_comma_separated_labels_and_top_k(siglip_dir: Path) -> None:
    result = await context(siglip_dir, refs()).call(
        "read_image", {"image_id": "image-3", "labels": "a, b, c", "top_k": 2}
    )
    assert len(result.data["findings"]) == 2


async def test_read_image_without_a_model_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="no image model configured: pass --image-model DIR"):
        await context(None, refs()).call("read_image", {"image_id": "image-1"})


async def test_read_image_errors_the_doctor_sees(siglip_dir: Path, tmp_path: Path) -> None:
    ctx = context(siglip_dir, refs())
    with pytest.raises(ToolError, match=r"no image 'x-ray'.*image-1, image-2, image-3"):
        await ctx.call("read_image", {"image_id": "x-ray"})
    with pytest.raises(ToolError, match="labels must be"):
        await ctx.call("read_image", {"image_id": "image-1", "labels": 3})
    missing = [ImageRef(id="image-9", path=str(tmp_path / "gone.png"))]
    with pytest.raises(ToolError, match=r"scenario 't/1', image 'image-9': no such file"):
        await context(siglip_dir, missing).call("read_image", {"image_id": "image-9"})


def test_tools_are_offered_only_with_images(siglip_dir: Path) -> None:
    assert context(siglip_dir, refs()).available("read_image")
    assert not context(siglip_dir, []).available("read_image")
    assert not context(siglip_dir, []).available("search_images")
    assert not context(siglip_dir, refs()[:1]).available("find_similar_images")


async def test_encoder_is_loaded_once_and_cache_avoids_reencoding(siglip_dir: Path) -> None:
    ctx = context(siglip_dir, refs())
    read = ctx.tool("read_image")
    await read.call({"image_id": "image-1"}, ctx.ctx)
    encoder = ctx.resources["imaging.encoders"][str(siglip_dir)]
    cache = ctx.resources["imaging.cache"]
    assert cache.encoded == 1

    def refuse(images: object) -> None:
        raise AssertionError("re-encoded a cached image")

    encoder.encode_images = refuse
    again = await read.call({"image_id": "image-1", "labels": ["pneumonia"]}, ctx.ctx)
    assert again.data["findings"][0]["label"] == "pneumonia"
    assert ctx.resources["imaging.encoders"][str(siglip_dir)] is encoder
    assert cache.encoded == 1 and cache.hits >= 1


def test_batch_encoding_and_disk_cache(encoder: ImageEncoder, tmp_path: Path) -> None:
    calls: list[int] = []
    original = encoder.encode_images

    def counting(images):  # type: ignore[no-untyped-def]
        calls.append(len(images))
        return original(images)

    encoder.encode_images = counting  # type: ignore[method-assign]
    try:
        cache = EmbeddingCache(tmp_path / "cache")
        first = embed_files(encoder, cache, [CXR, SKIN, CXR])
        assert calls == [2]  # one batch, the duplicate encoded once
        assert np.allclose(first[0], first[2])
        assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
        fresh = EmbeddingCache(tmp_path / "cache")  # a later run reading the disk cache
        second = embed_files(encoder, fresh, [SKIN, CXR])
        assert calls == [2] and fresh.hits == 2
        assert np.allclose(second, first[[1, 0]])
        one_by_one = np.concatenate([original([load_image(p)]) for p in (CXR, SKIN)])
        assert np.allclose(one_by_one, first[:2], atol=1e-5)
    finally:
        del encoder.encode_images


async def test_similar_images_and_text_search_rank_by_embeddings(
    siglip_dir: Path, encoder: ImageEncoder
) -> None:
    ctx = context(siglip_dir, refs())
    paths = [image_path(r) for r in refs()]
    embeddings = embed_files(encoder, EmbeddingCache(), paths)
    similar = await ctx.call("find_similar_images", {"image_id": "image-1"})
    cosines = {"image-2": embeddings[1] @ embeddings[0], "image-3": embeddings[2] @ embeddings[0]}
    ranked = similar.data["similar"]
    assert [r["image_id"] for r in ranked] == sorted(cosines, key=lambda k: -cosines[k])
    for row in ranked:
        assert row["similarity"] == pytest.approx(cosines[row["image_id"]], abs=1e-4)

    search = await ctx.call("search_images", {"text": "melanoma", "top_k": 3})
    probs = encoder.probabilities(embeddings, encoder.encode_texts(["melanoma"]))[:, 0]
    expected = [f"image-{i + 1}" for i in np.argsort(-probs)]
    assert [m["image_id"] for m in search.data["matches"]] == expected


def test_every_bundled_image_and_pydicom_example_encodes(encoder: ImageEncoder) -> None:
    scenarios = load_scenarios(["images"])
    paths = list(dict.fromkeys(image_path(r, s.id) for s in scenarios for r in s.case.images))
    assert any(p.suffix == ".dcm" for p in paths) and any(p.suffix == ".tif" for p in paths)
    embeddings = embed_files(encoder, EmbeddingCache(), paths)
    assert embeddings.shape == (len(paths), encoder.model.config.vision_config.hidden_size)
    assert np.isfinite(embeddings).all()
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_missing_models_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageModelError, match="does not exist"):
        ImageEncoder.load(str(tmp_path / "nowhere"))
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(MEDSIGLIP, "config.json"), str):
        pytest.skip("MedSigLIP is in this machine's cache")
    with pytest.raises(ImageModelError, match=r"google/medsiglip-448.*accept.*terms"):
        ImageEncoder.load(MEDSIGLIP)


def test_a_non_siglip_checkpoint_is_refused(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(
            vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
            intermediate_size=8,
        )
    ).save_pretrained(tmp_path)  # fmt: skip
    with pytest.raises(ImageModelError, match=r"cannot open|not a SigLIP model"):
        ImageEncoder.load(str(tmp_path))


async def test_an_unloadable_model_is_a_tool_error_tried_once(tmp_path: Path) -> None:
    ctx = context(tmp_path / "no-model", refs())
    for _ in range(2):
        with pytest.raises(ToolError, match=r"image model unavailable: .*does not exist"):
            await ctx.call("read_image", {"image_id": "image-1"})
    assert isinstance(ctx.resources["imaging.encoders"][str(tmp_path / "no-model")], Exception)
