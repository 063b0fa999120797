"""The embedding adapter: wordllama offline with downloads disabled, and the OpenAI-compatible
HTTP embedder against a local server speaking that API."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import requests

from vectors.embeddings import (
    EmbeddingError,
    HttpEmbedder,
    WordLlamaEmbedder,
    build_embedder,
)


class _OpenAIEmbeddings(BaseHTTPRequestHandler):
    requests: list = []
    fail = False

    def do_POST(self):  # noqa: N802  (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, dict(self.headers), body))
        if type(self).fail:
            self.send_response(500)
            self.end_headers()
            return
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0, 2.0]}
            for i, t in enumerate(body["input"])
        ]
        payload = json.dumps({"object": "list", "data": data[::-1], "model": body["model"]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _OpenAIEmbeddings.requests = []
    _OpenAIEmbeddings.fail = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIEmbeddings)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_http_embedder_speaks_the_openai_api(server):
    embedder = HttpEmbedder(url=server, model="text-embedding-3-small", api_key="sk-test")
    matrix = embedder.embed(["ab", "abcd"])
    ((path, headers, body),) = _OpenAIEmbeddings.requests
    assert path == "/v1/embeddings"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {"model": "text-embedding-3-small", "input": ["ab", "abcd"]}
    assert matrix.shape == (2, 4) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0)
    expected = np.array([2.0, 1.0, 0.0, 2.0]) / 3.0  # sorted back by index, normalised
    assert np.allclose(matrix[0], expected)
    assert (embedder.calls, embedder.texts, embedder.dimension) == (1, 2, 4)


def test_http_embedder_failure_is_one_sentence(server):
    _OpenAIEmbeddings.fail = True
    embedder = HttpEmbedder(url=server, model="m")
    with pytest.raises(EmbeddingError, match="The embedding service failed"):
        embedder.embed(["x"])


def test_environment_selects_the_embedder(settings, server):
    settings.EMBEDDINGS_URL = server
    settings.EMBEDDINGS_MODEL = "nomic"
    chosen = build_embedder()
    assert isinstance(chosen, HttpEmbedder) and chosen.model == "nomic"
    settings.EMBEDDINGS_URL = ""
    assert isinstance(build_embedder(), WordLlamaEmbedder)


def test_wordllama_loads_from_the_wheel_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("wordllama tried to download")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(WordLlamaEmbedder, "_model", None)
    embedder = WordLlamaEmbedder()
    matrix = embedder.embed(["glacier and fjord", "a warm coral reef"])
    assert matrix.shape == (2, 256)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    near = embedder.embed(["fjord glacier"])[0]
    assert near @ matrix[0] > near @ matrix[1]
    assert embedder.name == "wordllama/l2_supercat-256"
