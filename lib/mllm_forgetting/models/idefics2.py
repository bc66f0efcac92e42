"""tiny-resampler: Idefics2ForConditionalGeneration (SigLIP-style tower, perceiver resampler, Mistral LM).

The MiniCPM-V analogue: image features pass a perceiver resampler with a fixed number of latents
before the LM, and the paper tunes that resampler.
"""

from __future__ import annotations

from .size import ResamplerSize

IMAGE_TOKEN, AROUND_IMAGE, END_OF_UTTERANCE = "<image>", "<fake_token_around_image>", "<end_of_utterance>"


def build_idefics2(size: ResamplerSize, words: list[str]):
    """A randomly initialised Idefics2 of the given size and its processor, ready for save_pretrained."""
    from transformers import (
        Idefics2Config,
        Idefics2ForConditionalGeneration,
        Idefics2ImageProcessorPil,
        Idefics2Processor,
        MistralConfig,
    )

    from .tokenizer import build_word_tokenizer

    tokenizer = build_word_tokenizer(words, [IMAGE_TOKEN, AROUND_IMAGE, END_OF_UTTERANCE])
    latents = size.resampler_latents
    vision = dict(
        hidden_size=size.vision_hidden,
        intermediate_size=2 * size.vision_hidden,
        num_hidden_layers=size.vision_layers,
        num_attention_heads=size.heads,
        image_size=size.image_size,
        patch_size=size.patch_size,
    )
    perceiver = dict(
        hidden_act="silu",
        resampler_n_latents=latents,
        resampler_depth=size.resampler_depth,
        resampler_n_heads=size.heads,
        resampler_head_dim=size.text_hidden // size.heads,
        num_key_value_heads=size.heads,
        hidden_size=size.text_hidden,
        rms_norm_eps=1e-6,
    )
    text = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.text_hidden,
        intermediate_size=2 * size.text_hidden,
        num_hidden_layers=size.text_layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=size.max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        sliding_window=None,
    )
    config = Idefics2Config(
        vision_config=vision,
        perceiver_config=perceiver,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        tie_word_embeddings=False,
    )
    config.pad_token_id = tokenizer.pad_token_id
    model = Idefics2ForConditionalGeneration(config)
    image_processor = Idefics2ImageProcessorPil(
        do_image_splitting=False,
        do_resize=True,
        size={"shortest_edge": size.image_size, "longest_edge": size.image_size},
    )
    processor = Idefics2Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=latents)
    return model, processor
