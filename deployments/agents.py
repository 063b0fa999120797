"""DraftForge agents: the built-in local ones (style, word count) and an LLM-backed one behind
an OpenAI-compatible chat-completions adapter. Each takes the manuscript files ({path: text})
and returns (summary, issues, stats) in the shape of seed 001's agent-run file."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass

from .redaction import redact_text

LOCAL_AGENTS = ("style", "word_count")
WORD = re.compile(r"[A-Za-z\u00C0-\u024F']+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STOPWORDS = set(
    "the a an and or but of to in on at for with as is was were be been are it its he she they "
    "them his her their i you we our my me him this that these those from by not no so if then "
    "than there here what which who whom when where why how all any some had has have do did "
    "does said into out up down over under again very just".split()
)
LONG_SENTENCE = 40


class AgentFailed(Exception):
    """The agent could not finish (retried with backoff unless out of attempts)."""


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def word_count_agent(files: dict[str, str]) -> tuple[str, list, dict]:
    totals = {path: len(text.split()) for path, text in files.items()}
    total = sum(totals.values())
    issues = [
        {
            "id": f"wc-{n:03d}",
            "severity": "info",
            "category": "word_count",
            "file": path,
            "message": f"{words} words.",
        }
        for n, (path, words) in enumerate(sorted(totals.items()), start=1)
    ]
    return (
        f"{total} words in {len(files)} files",
        issues,
        {"files_analyzed": len(files), "total_words": total},
    )


def style_agent(files: dict[str, str]) -> tuple[str, list, dict]:
    """Readability (Flesch reading ease), sentence length, and words repeated close together."""
    issues: list[dict] = []
    words_total = sentences_total = syllables_total = 0
    for path, text in sorted(files.items()):
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.lstrip().startswith("#"):
                continue
            for sentence in SENTENCE_END.split(line):
                words = WORD.findall(sentence)
                if not words:
                    continue
                sentences_total += 1
                words_total += len(words)
                syllables_total += sum(_syllables(w) for w in words)
                if len(words) > LONG_SENTENCE:
                    issues.append(
                        {
                            "id": f"style-{len(issues) + 1:03d}",
                            "severity": "warning",
                            "category": "sentence_length",
                            "file": path,
                            "line": line_no,
                            "message": f"A sentence of {len(words)} words.",
                            "suggestion": "Consider splitting it.",
                        }
                    )
                lowered = [w.lower() for w in words if len(w) > 3]
                repeated = [w for w, n in Counter(lowered).items() if n > 1 and w not in STOPWORDS]
                for word in repeated:
                    issues.append(
                        {
                            "id": f"style-{len(issues) + 1:03d}",
                            "severity": "info",
                            "category": "repeated_word",
                            "file": path,
                            "line": line_no,
                            "message": f"'{word}' is repeated in one sentence.",
                        }
                    )
    if sentences_total:
        ease = (
            206.835
            - 1.015 * (words_total / sentences_total)
            - 84.6 * (syllables_total / max(1, words_total))
        )
        avg = words_total / sentences_total
    else:
        ease, avg = 0.0, 0.0
    summary = f"Reading ease {ease:.0f}, {avg:.1f} words per sentence, {len(issues)} notes"
    return (
        summary,
        issues,
        {
            "files_analyzed": len(files),
            "total_words": words_total,
            "readability": round(ease, 1),
            "average_sentence_words": round(avg, 1),
        },
    )


LOCAL = {"style": style_agent, "word_count": word_count_agent}


@dataclass
class LlmReply:
    text: str
    input_tokens: int
    output_tokens: int


class OpenAiCompatibleClient:
    """POST {api_url}/chat/completions with a bearer key from the environment."""

    def __init__(self, *, api_url: str, api_key: str, timeout: float = 60):
        if not api_url:
            raise AgentFailed("No LLM endpoint is configured: set AGENT_LLM_API_URL.")
        if not (api_url.startswith("https://") or api_url.startswith("http://127.0.0.1")):
            raise AgentFailed("The LLM endpoint must be HTTPS.")
        self.api_url, self.api_key, self.timeout = api_url.rstrip("/"), api_key, timeout

    def chat(self, *, model: str, system: str, user: str) -> LlmReply:
        body = json.dumps(
            {
                "model": model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "response_format": {"type": "json_object"},
            }
        ).encode()
        req = urllib.request.Request(  # noqa: S310 (scheme checked above)
            f"{self.api_url}/chat/completions",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.api_key}",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
                data = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise AgentFailed(redact_text(f"The LLM call failed: {exc}"))
        try:
            usage = data.get("usage") or {}
            return LlmReply(
                text=data["choices"][0]["message"]["content"],
                input_tokens=int(usage.get("prompt_tokens", 0)),
                output_tokens=int(usage.get("completion_tokens", 0)),
            )
        except (KeyError, IndexError, TypeError, ValueError):
            raise AgentFailed("The LLM answered in an unexpected shape.")


SYSTEM_PROMPT = (
    "You review a manuscript as the DraftForge '{agent}' agent. Answer with JSON: "
    '{{"summary": str, "issues": [{{"severity": "info|warning|error", "category": str, '
    '"file": str, "line": int|null, "message": str, "suggestion": str}}]}}.'
)


def llm_agent(
    client: OpenAiCompatibleClient, *, agent: str, model: str, files: dict[str, str]
) -> tuple[str, list, dict, LlmReply]:
    text = "\n\n".join(f"=== {path} ===\n{body}" for path, body in sorted(files.items()))
    reply = client.chat(model=model, system=SYSTEM_PROMPT.format(agent=agent), user=text)
    try:
        answer = json.loads(reply.text)
    except ValueError:
        answer = {"summary": reply.text[:500], "issues": []}
    issues = []
    for n, item in enumerate(answer.get("issues") or [], start=1):
        if not isinstance(item, dict) or not item.get("message"):
            continue
        line = item.get("line")
        issue = {
            "id": f"{agent[:8]}-{n:03d}",
            "severity": item.get("severity")
            if item.get("severity") in ("info", "warning", "error")
            else "info",
            "message": str(item["message"])[:2000],
        }
        for key in ("category", "file", "suggestion"):
            if item.get(key):
                issue[key] = str(item[key])[:500]
        if isinstance(line, int) and line >= 1:
            issue["line"] = line
        issues.append(issue)
    stats = {
        "files_analyzed": len(files),
        "total_words": sum(len(b.split()) for b in files.values()),
        "tokens_used": reply.input_tokens + reply.output_tokens,
    }
    return str(answer.get("summary") or "")[:2000], issues, stats, reply
