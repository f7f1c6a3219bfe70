"""Reuse of the key/value cache across the turns of a growing conversation.

A doctor's or patient's prompt at turn k+1 is its prompt at turn k, the reply, and a new message.
`PrefixCache` keeps the cache of the last generation with the token ids it covers; when the next
prompt shares a prefix with them, the cache is cropped to that prefix and passed to `generate`
so only the new tokens are computed. Anything unexpected drops the cache (never wrong, at most
slower).
"""

from __future__ import annotations

from typing import Any


def cache_keyword() -> str:
    """`generate`'s name for the cache: `cache` in newer transformers, `past_key_values` before."""
    from transformers.generation.utils import GenerateDecoderOnlyOutput

    fields = getattr(GenerateDecoderOnlyOutput, "__dataclass_fields__", {})
    return "cache" if "cache" in fields else "past_key_values"


def common_prefix_length(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


class PrefixCache:
    """One conversation's cache per model; callers hold the model's generation lock."""

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._cache: Any = None
        self.reused_tokens = 0
        """Prompt tokens taken from the cache in the last call (0 when nothing was reused)."""

    def clear(self) -> None:
        self._ids, self._cache = [], None

    def take(self, prompt_ids: list[int], config: Any) -> Any:
        """A cache to pass as `past_key_values` for `prompt_ids` (a fresh one when no prefix)."""
        from transformers import DynamicCache

        self.reused_tokens = 0
        keep = min(common_prefix_length(self._ids, prompt_ids), len(prompt_ids) - 1)
        if self._cache is not None and keep > 0:
            try:
                if len(self._ids) > keep:
                    self._cache.crop(-(len(self._ids) - keep))
                if self._cache.get_seq_length() == keep:
                    self.reused_tokens = keep
                    reused, self._cache = self._cache, None
                    return reused
            except (RuntimeError, ValueError, AttributeError):
                pass
        self.clear()
        cache = DynamicCache(config=config)
        if hasattr(cache, "activate_past_recording"):
            cache.activate_past_recording()  # type: ignore[no-untyped-call]  # sliding-window layers keep what a later crop needs
        return cache

    def keep(self, sequence_ids: list[int], cache: Any) -> None:
        """Remember the cache after generation; it covers all tokens but the last generated."""
        try:
            covered = int(cache.get_seq_length())
        except (AttributeError, RuntimeError):
            self.clear()
            return
        if covered <= 0 or covered > len(sequence_ids):
            self.clear()
            return
        self._ids, self._cache = list(sequence_ids[:covered]), cache
