"""A word-level tokenizer over the benchmark vocabulary, wrapped as a transformers fast tokenizer.

Built locally with the `tokenizers` library so a checkpoint directory ships its own tokenizer
and loads with AutoProcessor / AutoTokenizer like a hub model, without network access.
"""

from __future__ import annotations

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"


def build_word_tokenizer(words: list[str], extra_special_tokens: list[str]) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: one id per benchmark word, plus the special tokens a backbone needs."""
    specials = [PAD, UNK, BOS, EOS, *extra_special_tokens]
    vocab = {token: i for i, token in enumerate(specials)}
    for word in sorted(set(words) - set(specials)):
        vocab[word] = len(vocab)
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        extra_special_tokens=list(extra_special_tokens),
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special_tokens)})
    return tokenizer
