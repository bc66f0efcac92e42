"""tiny-qwen2-vl: Qwen2VLForConditionalGeneration (native-resolution ViT with 2x2 patch merger, Qwen2 LM).

The transformers-native modern backbone: images become a variable number of flattened patches
(`pixel_values` concatenated over the batch plus `image_grid_thw`), prompts come from the
processor's own chat template. Built tiny here so tests exercise the same code path as
Qwen/Qwen2-VL-2B-Instruct.
"""

from __future__ import annotations

from .size import NativeResolutionSize

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Qwen2-VL's chat template, reduced to one user turn with images and text (what the pipeline sends).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_qwen2_vl(size: NativeResolutionSize, words: list[str]):
    """A randomly initialised Qwen2-VL of the given size and its processor, ready for save_pretrained."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil

    from .tokenizer import build_word_tokenizer

    specials = [IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD]
    tokenizer = build_word_tokenizer(list(words) + ["user", "assistant"], specials)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    heads = size.heads
    vision = dict(
        depth=size.vision_layers,
        embed_dim=size.vision_hidden,
        hidden_size=size.text_hidden,
        num_heads=heads,
        patch_size=size.patch_size,
        spatial_merge_size=2,
        temporal_patch_size=2,
    )
    head_dim = size.text_hidden // heads
    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=size.text_hidden,
        intermediate_size=2 * size.text_hidden,
        num_hidden_layers=size.text_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=size.max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        # M-RoPE splits each head's rotary half into temporal/height/width sections
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": _mrope_sections(head_dim),
        },
    )
    config = Qwen2VLConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=ids[IMAGE_PAD],
        video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[VISION_START],
        vision_end_token_id=ids[VISION_END],
        tie_word_embeddings=False,
    )
    config.pad_token_id = tokenizer.pad_token_id
    model = Qwen2VLForConditionalGeneration(config)
    pixels = size.image_size**2  # a fixed pixel budget: square images give a fixed number of tokens
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=size.patch_size,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": pixels, "longest_edge": pixels},
    )
    return model, make_processor(image_processor, tokenizer)


def make_processor(image_processor, tokenizer):
    """Qwen2VLProcessor; without torchvision (its video processor needs it) an image-only one.

    The image-only processor handles images exactly as the full one; it cannot be saved and reloaded
    with AutoProcessor, so install torchvision wherever a Qwen2-VL checkpoint is written."""
    from transformers import Qwen2VLProcessor

    try:
        return Qwen2VLProcessor(
            image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
        )
    except (ImportError, AttributeError):
        processor = Qwen2VLProcessor.__new__(Qwen2VLProcessor)
        processor.image_processor, processor.tokenizer, processor.video_processor = (
            image_processor,
            tokenizer,
            None,
        )
        processor.chat_template = CHAT_TEMPLATE
        processor.image_token, processor.video_token = IMAGE_PAD, VIDEO_PAD
        processor.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        processor.video_token_id = tokenizer.convert_tokens_to_ids(VIDEO_PAD)
        return processor


def _mrope_sections(head_dim: int) -> list[int]:
    half = head_dim // 2
    temporal = half // 4
    rest = half - temporal
    return [temporal, rest - rest // 2, rest // 2]
