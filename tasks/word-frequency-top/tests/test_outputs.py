"""Tests for the word-frequency-top task."""
import hashlib
from collections import Counter
from pathlib import Path

WORDS = Path("/app/words.txt")
OUT = Path("/app/top_word.txt")
WORDS_SHA256 = "fc32aea83ef6c1dab6d47ff171a9769f868c0771895d80bbb046124f0909a5b1"


def test_words_unchanged():
    assert WORDS.is_file(), "/app/words.txt is missing"
    digest = hashlib.sha256(WORDS.read_bytes()).hexdigest()
    assert digest == WORDS_SHA256, "/app/words.txt must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/top_word.txt was not created"


def test_output_is_a_single_word():
    content = OUT.read_text().strip()
    assert content and len(content.split()) == 1, (
        f"/app/top_word.txt must contain exactly one word (no count), got {content!r}"
    )
    assert not any(ch.isdigit() for ch in content), (
        f"/app/top_word.txt must not contain the count, got {content!r}"
    )


def test_most_frequent_word_case_sensitive():
    content = OUT.read_text().strip()
    counts = Counter(WORDS.read_text().split())
    (top, top_n), (_, second_n) = counts.most_common(2)
    assert top_n > second_n, "the data must have a unique most frequent word"
    folded = Counter(w.lower() for w in WORDS.read_text().split())
    if content != top and content.lower() == folded.most_common(1)[0][0]:
        raise AssertionError(
            f"{content!r} is the most frequent word only when case is ignored; words are case-sensitive"
        )
    assert content == top, (
        f"the most frequent word is {top!r} ({top_n} times), /app/top_word.txt says {content!r}"
    )
