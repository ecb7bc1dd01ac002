"""Tokenizers: the target's own (through transformers), or a byte-level one for tiny random models."""

from __future__ import annotations

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)
BYTE_SPECIALS = ("<|pad|>", "<|bos|>", "<|im_end|>", "<|mask|>", "<|im_start|>")


def byte_tokenizer():
    """A deterministic byte-level tokenizer (5 special tokens, then the 256 bytes): 261 ids.

    Tiny random models need a real tokenizer that round-trips any text without a download; a
    byte-level BPE with no merges is exactly that, built with the `tokenizers` library.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(BYTE_SPECIALS)}
    vocab.update({ch: len(BYTE_SPECIALS) + i for i, ch in enumerate(alphabet)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", bos_token="<|bos|>", eos_token="<|im_end|>",
        additional_special_tokens=["<|mask|>", "<|im_start|>"],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast
