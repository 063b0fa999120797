"""A local HTTP server speaking the GitHub REST endpoints the GitHub git backend uses
(refs, commits, trees, blobs, the commits list), backed by an in-memory object store."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Store:
    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.refs: dict[str, str] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.before_ref_update = None  # a hook to simulate a racing push

    def put(self, obj: dict) -> str:
        sha = hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()  # noqa: S324
        self.objects[sha] = obj
        return sha

    def blob(self, data: bytes) -> str:
        return self.put({"type": "blob", "content": base64.b64encode(data).decode()})

    def tree(self, entries: dict[str, str]) -> str:
        return self.put({"type": "tree", "entries": dict(sorted(entries.items()))})

    def commit(self, tree: str, parents: list[str], message: str, date: str) -> str:
        return self.put({"type": "commit", "tree": tree, "parents": parents,
                         "message": message, "date": date})  # fmt: skip

    def seed(
        self,
        branch: str,
        files: dict[str, bytes],
        message="init",
        parent=None,
        date="2025-10-28T10:00:00Z",
    ) -> str:
        base = dict(self.objects[self.objects[parent]["tree"]]["entries"]) if parent else {}
        base.update({p: self.blob(d) for p, d in files.items()})
        sha = self.commit(self.tree(base), [parent] if parent else [], message, date)
        self.refs[branch] = sha
        return sha

    def is_ancestor(self, old: str, new: str) -> bool:
        stack = [new]
        while stack:
            sha = stack.pop()
            if sha == old:
                return True
            stack.extend(self.objects[sha]["parents"])
        return False


def make_handler(store: Store, token: str):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code: int, body=None):
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _route(self, method):
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, {"message": "Bad credentials"})
            parts = urlsplit(self.path)
            store.requests.append((method, parts.path))
            m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)$", parts.path)
            if not m:
                return self._send(404, {})
            rest, query = m.group(3), parse_qs(parts.query)
            with store.lock:
                return self._dispatch(method, rest, query)

        def _dispatch(self, method, rest, query):
            objs = store.objects
            if method == "GET" and (m := re.match(r"^/git/ref/heads/(.+)$", rest)):
                sha = store.refs.get(m.group(1))
                return (
                    self._send(404, {})
                    if sha is None
                    else self._send(
                        200, {"ref": f"refs/heads/{m.group(1)}", "object": {"sha": sha}}
                    )
                )
            if method == "GET" and (m := re.match(r"^/git/commits/(\w+)$", rest)):
                c = objs.get(m.group(1))
                if not c or c["type"] != "commit":
                    return self._send(404, {})
                return self._send(
                    200,
                    {
                        "sha": m.group(1),
                        "tree": {"sha": c["tree"]},
                        "parents": [{"sha": p} for p in c["parents"]],
                    },
                )
            if method == "GET" and (m := re.match(r"^/git/trees/(\w+)$", rest)):
                t = objs.get(m.group(1))
                if not t:
                    return self._send(404, {})
                items = [
                    {"path": p, "mode": "100644", "type": "blob", "sha": s}
                    for p, s in t["entries"].items()
                ]
                return self._send(200, {"sha": m.group(1), "tree": items, "truncated": False})
            if method == "GET" and (m := re.match(r"^/git/blobs/(\w+)$", rest)):
                b = objs.get(m.group(1))
                return (
                    self._send(200, {"content": b["content"], "encoding": "base64"})
                    if b
                    else self._send(404, {})
                )
            if method == "GET" and rest == "/commits":
                sha, page = query["sha"][0], int(query.get("page", ["1"])[0])
                chain = []
                while sha:
                    c = objs[sha]
                    chain.append(
                        {
                            "sha": sha,
                            "parents": [{"sha": p} for p in c["parents"]],
                            "commit": {"message": c["message"], "author": {"date": c["date"]}},
                        }
                    )
                    sha = c["parents"][0] if c["parents"] else None
                per = int(query.get("per_page", ["30"])[0])
                return self._send(200, chain[(page - 1) * per : page * per])
            if method == "POST" and rest == "/git/blobs":
                body = self._body()
                sha = store.put({"type": "blob", "content": body["content"]})
                return self._send(201, {"sha": sha})
            if method == "POST" and rest == "/git/trees":
                body = self._body()
                entries = dict(objs[body["base_tree"]]["entries"]) if body.get("base_tree") else {}
                for item in body["tree"]:
                    if item.get("sha") is None:
                        entries.pop(item["path"], None)
                    else:
                        entries[item["path"]] = item["sha"]
                return self._send(201, {"sha": store.tree(entries)})
            if method == "POST" and rest == "/git/commits":
                body = self._body()
                sha = store.commit(
                    body["tree"], body["parents"], body["message"], "2025-10-29T14:30:00Z"
                )
                return self._send(201, {"sha": sha})
            if method == "PATCH" and (m := re.match(r"^/git/refs/heads/(.+)$", rest)):
                body = self._body()
                if store.before_ref_update:
                    hook, store.before_ref_update = store.before_ref_update, None
                    hook(store)
                current = store.refs.get(m.group(1))
                if current is None:
                    return self._send(422, {"message": "Reference does not exist"})
                if not body.get("force") and not store.is_ancestor(current, body["sha"]):
                    return self._send(422, {"message": "Update is not a fast forward"})
                store.refs[m.group(1)] = body["sha"]
                return self._send(200, {"object": {"sha": body["sha"]}})
            return self._send(404, {})

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

        def do_PATCH(self):
            self._route("PATCH")

    return Handler


class FakeGitHubServer:
    def __init__(self, token="ghp_test"):
        self.store = Store()
        self.token = token
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.store, token))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
