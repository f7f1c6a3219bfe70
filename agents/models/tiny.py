"""Tiny random Gemma 3 models built from config, for tests and offline demos.

They have Gemma 3's architecture, Gemma's chat template and a small byte-level BPE tokenizer
trained on the fly, so they load in transformers and vLLM exactly like the real checkpoints; their
output is gibberish, but deterministic with greedy decoding. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clinsim.agents.models.templates import GEMMA_CHAT_TEMPLATE

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
IMAGE_TOKENS = {
    "boi_token": "<start_of_image>",
    "image_token": "<image_soft_token>",
    "eoi_token": "<end_of_image>",
}
_CORPUS = [
    "The patient reports chest pain radiating to the left arm since this morning.",
    "Any fever, cough, shortness of breath, nausea or vomiting? How long has it lasted?",
    "Blood pressure 140/90, heart rate 98, temperature 38.2 C, oxygen saturation 95%.",
    "REQUEST TEST: ECG. DIAGNOSIS READY: acute myocardial infarction. Yes. No.",
    '{"action": "ask_patient", "question": "Where does it hurt?"} user model system',
    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?()[]{}<>'\"-_/",
]


def train_tokenizer(vocab_size: int = 512, multimodal: bool = False) -> Any:
    """A byte-level BPE tokenizer with Gemma's special tokens and chat template."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    fast: Any = transformers.PreTrainedTokenizerFast

    specials = SPECIAL_TOKENS + (list(IMAGE_TOKENS.values()) if multimodal else [])
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS * 4, trainer=trainer)
    extra: dict[str, Any] = {"extra_special_tokens": dict(IMAGE_TOKENS)} if multimodal else {}
    return fast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<start_of_turn>", "<end_of_turn>"],
        chat_template=GEMMA_CHAT_TEMPLATE,
        **extra,
    )


def _text_config(tokenizer: Any, **overrides: Any) -> Any:
    from transformers import Gemma3TextConfig

    options: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 32,
        "query_pre_attn_scalar": 32,
        "max_position_embeddings": 8192,
        "sliding_window": 512,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")],
        "bos_token_id": tokenizer.bos_token_id,
    }
    options.update(overrides)
    return Gemma3TextConfig(**options)


def build_tiny_gemma3_text(out_dir: str | Path, seed: int = 0) -> Path:
    """Save a random Gemma3ForCausalLM with tokenizer and generation config to `out_dir`."""
    import torch
    import transformers

    tf: Any = transformers
    out = Path(out_dir)
    tokenizer = train_tokenizer()
    config = _text_config(tokenizer)
    config.architectures = ["Gemma3ForCausalLM"]
    torch.manual_seed(seed)
    model = tf.Gemma3ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = tf.GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_gemma3_multimodal(out_dir: str | Path, seed: int = 0, image_size: int = 32) -> Path:
    """Save a random Gemma3ForConditionalGeneration with a Gemma3Processor to `out_dir`."""
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessorPil,
        Gemma3Processor,
        SiglipVisionConfig,
    )

    out = Path(out_dir)
    tokenizer = train_tokenizer(multimodal=True)
    patch = 8
    tokens_per_image = 4  # (image_size / patch)^2 patches pooled down to 2x2
    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch,
        vision_use_head=False,
    )
    config = Gemma3Config(
        text_config=_text_config(tokenizer).to_dict(),
        vision_config=vision.to_dict(),
        mm_tokens_per_image=tokens_per_image,
        boi_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKENS["boi_token"]),
        eoi_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKENS["eoi_token"]),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKENS["image_token"]),
    )
    config.architectures = ["Gemma3ForConditionalGeneration"]
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    model.save_pretrained(out)
    image_processor = Gemma3ImageProcessorPil(size={"height": image_size, "width": image_size})
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=GEMMA_CHAT_TEMPLATE,
        image_seq_length=tokens_per_image,
    )
    processor.save_pretrained(out)
    return out
