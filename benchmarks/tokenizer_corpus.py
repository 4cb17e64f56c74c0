"""A deterministic ~1 MB mixed-language text for tokenizer benchmarks: English prose and Python code from the
standard library, Korean, Chinese and Japanese sentences built from common words, emoji and symbols."""

from __future__ import annotations

import inspect
import random

_KO = (
    "안녕하세요 오늘 날씨가 정말 좋네요 우리는 함께 공부하고 일합니다 컴퓨터 프로그램 언어 "
    "모델 한국어 문장 학교 친구 가족 음식 여행 시간 사람 세계 도시 바다 하늘 사랑 행복 "
    "문제 해결 방법 생각 이야기 책 음악 영화 "
).split()
_ZH = (
    "你好 世界 今天 天气 很好 我们 一起 学习 工作 电脑 程序 语言 模型 中文 句子 学校 朋友 "
    "家人 食物 旅行 时间 人们 城市 大海 天空 爱情 幸福 问题 解决 方法 思考 故事 书 音乐 "
    "电影 "
).split()
_JA = (
    "こんにちは 世界 今日 天気 とても 良い 私たち 一緒に 勉強 仕事 コンピュータ プログラム "
    "言語 モデル 日本語 文章 学校 友達 家族 食べ物 旅行 時間 カタカナ ひらがな "
).split()
_EMOJI = "🦙 🔥 👍🏽 👨‍👩‍👧‍👦 ❤️ 😀 🎉 🚀 ✨ 🌍 ∑ ≤ ∞ α β γ → ★ ☆ © ® ™ € £ ¥".split()


def _prose() -> str:
    import argparse  # noqa: E401
    import collections
    import email
    import json
    import logging
    import textwrap
    import typing

    parts = []
    for mod in (argparse, collections, email, json, logging, textwrap, typing, random, inspect):
        for _, obj in inspect.getmembers(mod):
            doc = inspect.getdoc(obj)
            if doc:
                parts.append(doc)
    return "\n\n".join(parts)


def _code() -> str:
    import argparse  # noqa: E401
    import json
    import logging
    import textwrap

    return "\n".join(inspect.getsource(m) for m in (argparse, json.decoder, json.encoder, logging, textwrap))


def _sentences(words: list[str], rng: random.Random, n: int, sep: str, end: str) -> str:
    out = []
    for _ in range(n):
        k = rng.randint(4, 12)
        out.append(sep.join(rng.choice(words) for _ in range(k)) + rng.choice(end))
    return " ".join(out)


def mixed_corpus(size: int = 1_000_000, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    blocks = [
        (_prose(), 0.40),
        (_code(), 0.30),
        (_sentences(_KO, rng, 4000, " ", ".?!"), 0.10),
        (_sentences(_ZH, rng, 6000, "", "。？！，"), 0.10),
        (_sentences(_JA, rng, 4000, "", "。、"), 0.05),
        (" ".join(rng.choice(_EMOJI) for _ in range(20000)), 0.05),
    ]
    out = []
    for text, share in blocks:
        data = text.encode()
        want = int(size * share)
        while len(data) < want:
            data += b"\n" + text.encode()
        cut = data[:want].decode("utf-8", "ignore")  # never split a character
        out.append(cut)
    return "\n\n".join(out).encode()
