"""The one embedding adapter: an offline model by default, an OpenAI-compatible HTTP API by env.

- `wordllama` (default): the model's weights and tokenizer ship inside the PyPI wheel and are
  loaded with downloads disabled, so it works with no network (256 dimensions).
- `http`: set `EMBEDDINGS_URL` (the API base, e.g. `https://api.openai.com/v1`), and
  `EMBEDDINGS_MODEL`, `EMBEDDINGS_API_KEY`, `EMBEDDINGS_DIMENSION` as needed; it POSTs
  `{model, input}` to `<base>/embeddings` and reads `data[i].embedding`.

Every embedder returns L2-normalised float32 rows, so cosine similarity is a dot product,
and counts its calls (`calls`, `texts`) so tests and the benchmark can prove a re-run of an
unchanged file embeds nothing.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import numpy as np
from django.conf import settings


class EmbeddingError(Exception):
    """The embedder failed; the message is one sentence."""


def normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


class Embedder:
    name: str = ""
    dimension: int = 0

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.calls += 1
        self.texts += len(texts)
        matrix = normalise(self._embed(texts))
        if matrix.shape != (len(texts), self.dimension):
            raise EmbeddingError(
                f"The embedder returned shape {matrix.shape}, expected "
                f"({len(texts)}, {self.dimension})."
            )
        return matrix

    def _embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class WordLlamaEmbedder(Embedder):
    """wordllama's l2_supercat model from the wheel itself; never downloads."""

    _model = None
    _lock = threading.Lock()

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.dimension = dim
        self.name = f"wordllama/l2_supercat-{dim}"

    @classmethod
    def _load(cls, dim: int):
        with cls._lock:
            if cls._model is None:
                import wordllama
                from wordllama import WordLlama

                package = Path(wordllama.__file__).parent  # holds weights/ and tokenizers/
                cls._model = WordLlama.load(dim=dim, cache_dir=package, disable_download=True)
            return cls._model

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self._load(self.dimension).embed(texts, norm=True)


class HttpEmbedder(Embedder):
    """An OpenAI-compatible `/embeddings` endpoint."""

    def __init__(self, *, url: str, model: str, api_key: str = "", dimension: int = 0) -> None:
        super().__init__()
        self.url = url.rstrip("/") + "/embeddings"
        self.model = model
        self.api_key = api_key
        self.name = model
        self.dimension = dimension
        self.timeout = 30

    def _embed(self, texts: list[str]) -> np.ndarray:
        body = json.dumps({"model": self.model, "input": texts}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"The embedding service failed: {exc}.")
        try:
            rows = sorted(payload["data"], key=lambda d: d.get("index", 0))
            matrix = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise EmbeddingError("The embedding service answered without data[].embedding.")
        if not self.dimension:
            self.dimension = int(matrix.shape[1])
        return matrix


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def build_embedder() -> Embedder:
    url = getattr(settings, "EMBEDDINGS_URL", "")
    if url:
        return HttpEmbedder(
            url=url,
            model=getattr(settings, "EMBEDDINGS_MODEL", "") or "text-embedding-3-small",
            api_key=getattr(settings, "EMBEDDINGS_API_KEY", ""),
            dimension=int(getattr(settings, "EMBEDDINGS_DIMENSION", 0) or 0),
        )
    return WordLlamaEmbedder()


def get_embedder() -> Embedder:
    """The process's embedder, chosen by settings (`EMBEDDINGS_URL` empty: wordllama)."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = build_embedder()
        return _embedder


def set_embedder(embedder: Embedder | None) -> None:
    """Replace the process's embedder (None: build from settings again on next use)."""
    global _embedder
    with _embedder_lock:
        _embedder = embedder
