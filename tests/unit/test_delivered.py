"""Delivered-token accounting: the reported figure is the count of what is sent."""

from __future__ import annotations

import orjson
import pytest

from agentload.delivered import body_tokens, compact, with_delivered
from agentload.tokens import count_tokens


@pytest.mark.parametrize("texts", [[], ["short"], ["# Agent\n" + "persona line with words\n" * 400, "second text"]])
def test_given_metadata_and_texts_when_delivered_then_reported_count_equals_count_of_everything_sent(
    texts: list[str]
) -> None:
    header, delivered = with_delivered({"id": "pm", "tokens": 1234, "files": [{"path": "a/b.md", "tokens": 9}]}, texts)
    assert orjson.loads(header)["delivered_tokens"] == delivered
    assert delivered == count_tokens(header) + sum(count_tokens(t) for t in texts)


def test_given_nested_data_when_compacted_then_no_whitespace_padding_and_unicode_kept() -> None:
    text = compact({"a": [1, 2], "b": {"c": "é"}})
    assert text == '{"a":[1,2],"b":{"c":"é"}}'


def test_given_a_body_when_counted_twice_then_the_same_count_comes_from_the_memo() -> None:
    body = compact({"agents": ["pm"] * 50}).encode()
    before = body_tokens.cache_info().hits
    assert body_tokens(body) == count_tokens(body.decode()) == body_tokens(body)
    assert body_tokens.cache_info().hits == before + 1
