"""A local stand-in for the Hugging Face Hub: the HTTP endpoints `huggingface_hub` 2.x calls, on 127.0.0.1.

It serves exactly what `HfApi.create_repo`, `create_branch`, `upload_folder` (legacy single-commit path, taken
when `HF_HUB_DISABLE_XET=1`) and the download side (`hf_hub_download`, `model_info`, `list_repo_tree`, hence
`from_pretrained`) need:

    POST /api/repos/create                              create a repo (409 when it exists)
    POST /api/validate-yaml                             model card metadata check (YAML must parse)
    POST /api/models/{repo}/branch/{branch}             create a branch
    POST /api/models/{repo}/preupload/{rev}             say per file "regular" (inline base64) or "lfs"
    POST /{repo}.git/info/lfs/objects/batch             LFS batch API: where to PUT each large object
    PUT  /lfs-objects/{oid}  POST /lfs-verify           receive an LFS object, verify it
    POST /api/models/{repo}/commit/{rev}                NDJSON commit: header, file (base64), lfsFile, deletions
    GET  /api/models/{repo}[/revision/{rev}]            repo info with `sha` and `siblings`
    GET  /api/models/{repo}/tree/{rev}[/{path}]         file listing
    HEAD|GET /{repo}/resolve/{rev}/{path}               file bytes with X-Repo-Commit, ETag / X-Linked-Etag,
                                                        X-Linked-Size and Content-Length, as the Hub sends them

Like the real Hub, `*.safetensors` and other binary or large files go through LFS (the xet protocol is not
implemented: clients must set `HF_HUB_DISABLE_XET=1`), writes need `Authorization: Bearer <token>`, private
repos answer 401 to anonymous reads, and missing repos/revisions/files carry the `X-Error-Code` header that
`huggingface_hub` turns into `RepositoryNotFoundError`, `RevisionNotFoundError` and `EntryNotFoundError`.

Use it as a context manager; the server also stops by itself after `max_lifetime_s` so that a crashed test
never leaves it running. Every request is recorded in `requests` (authorization header excluded), and
`uploaded_files()` returns the bytes of every file ever committed, for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".png", ".jpg", ".arrow", ".zip")
LFS_MIN_SIZE = 10 * 1024 * 1024  # the Hub stores files above 10 MB in LFS whatever their suffix
REPO = r"(?P<repo>[\w.\-]+/[\w.\-]+)"


def git_blob_sha1(content: bytes) -> str:
    """The git object id of a blob: what the Hub reports as `oid`/`ETag` for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def oid(self) -> str:
        return self.sha256 if self.lfs else git_blob_sha1(self.content)


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)  # commit sha -> tree

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeHub:
    """An in-memory Hub on `http://127.0.0.1:<free port>`; `endpoint` is the value for `HF_ENDPOINT`."""

    def __init__(self, token: str, user: str = "tester", max_lifetime_s: float = 300.0):
        self.token, self.user = token, user
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.max_lifetime_s = max_lifetime_s
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-hub")
        self._timer = threading.Timer(max_lifetime_s, self.stop)
        self._timer.daemon = True

    def start(self) -> FakeHub:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ assertions helpers

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return {path: f.content for path, f in repo.commits[repo.resolve(revision)].items()}

    def uploaded_files(self) -> dict[str, bytes]:
        """Every file of every commit, keyed `repo@sha:path`."""
        return {
            f"{repo.repo_id}@{sha}:{path}": f.content
            for repo in self.repos.values()
            for sha, tree in repo.commits.items()
            for path, f in tree.items()
        }

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        parts = urlsplit(url)
        path, query = unquote(parts.path), parse_qs(parts.query)
        authorized = headers.get("authorization", "") == f"Bearer {self.token}"
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "authorized": authorized,
                    "headers": {k: v for k, v in headers.items() if k != "authorization"},
                }
            )
        try:
            for pattern, handler_method, allowed in self._routes():
                match = re.fullmatch(pattern, path)
                if match and method in allowed:
                    with self._lock:
                        return handler_method(
                            method=method, authorized=authorized, body=body, query=query, **match.groupdict()
                        )
            raise HubError(404, f"no route for {method} {path}")
        except Exception as error:  # an unexpected failure must still answer, as a 500 naming the cause
            if not isinstance(error, HubError):
                error = HubError(500, f"fake Hub failed on {method} {path}: {error!r}")
            response_headers = {"Content-Type": "application/json", "X-Error-Message": error.message}
            if error.code:
                response_headers["X-Error-Code"] = error.code
            return error.status, response_headers, json.dumps({"error": error.message}).encode()

    def _routes(self):
        return [
            (r"/api/repos/create", self._create_repo, {"POST"}),
            (r"/api/validate-yaml", self._validate_yaml, {"POST"}),
            (rf"/api/models/{REPO}/branch/(?P<branch>.+)", self._create_branch, {"POST"}),
            (rf"/api/models/{REPO}/preupload/(?P<revision>.+)", self._preupload, {"POST"}),
            (rf"/api/models/{REPO}/commit/(?P<revision>.+)", self._commit, {"POST"}),
            (rf"/api/models/{REPO}/tree/(?P<revision>[^/]+)(?:/(?P<prefix>.*))?", self._tree, {"GET"}),
            (rf"/api/models/{REPO}(?:/revision/(?P<revision>.+))?", self._info, {"GET"}),
            (rf"/{REPO}\.git/info/lfs/objects/batch", self._lfs_batch, {"POST"}),
            (r"/lfs-objects/(?P<oid>[0-9a-f]{64})", self._lfs_put, {"PUT"}),
            (r"/lfs-verify", self._lfs_verify, {"POST"}),
            (rf"/{REPO}/resolve/(?P<revision>[^/]+)/(?P<filename>.+)", self._resolve, {"GET", "HEAD"}),
        ]

    def _repo(self, repo: str, authorized: bool, write: bool = False) -> Repo:
        if write and not authorized:
            raise HubError(401, "Invalid credentials in Authorization header")
        found = self.repos.get(repo)
        if found is None or (found.private and not authorized):
            raise HubError(401 if not authorized else 404, f"Repository {repo} not found", "RepoNotFound")
        return found

    def _commit_of(self, repo: Repo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    @staticmethod
    def _json(payload, status: int = 200, headers: dict | None = None) -> tuple[int, dict, bytes]:
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()

    def _create_repo(self, authorized, body, **_):
        if not authorized:
            raise HubError(401, "Invalid credentials in Authorization header")
        payload = json.loads(body)
        repo_id = f"{payload.get('organization') or self.user}/{payload['name']}"
        if payload.get("type", "model") != "model":
            raise HubError(400, "this fake Hub only hosts model repos")
        if repo_id in self.repos:
            raise HubError(409, "You already created this model repo")
        initial = hashlib.sha1(f"init {repo_id}".encode()).hexdigest()
        self.repos[repo_id] = Repo(
            repo_id, private=payload.get("visibility") == "private", branches={"main": initial}, commits={initial: {}}
        )
        return self._json({"url": f"{self.endpoint}/{repo_id}", "name": repo_id})

    def _validate_yaml(self, body, **_):
        content = json.loads(body)["content"]
        if content.startswith("---"):
            try:
                yaml.safe_load(content.split("---", 2)[1])
            except yaml.YAMLError as error:
                return self._json({"errors": [{"message": str(error)}]}, status=400)
        return self._json({"errors": [], "warnings": []})

    def _create_branch(self, repo, branch, authorized, body, **_):
        found = self._repo(repo, authorized, write=True)
        if branch in found.branches:
            raise HubError(409, f"Reference {branch} already exists")
        start = (json.loads(body) if body else {}).get("startingPoint", "main")
        found.branches[branch] = self._commit_of(found, start)
        return self._json({})

    def _preupload(self, repo, revision, authorized, body, **_):
        found = self._repo(repo, authorized, write=True)
        tree = found.commits.get(found.resolve(revision) or "", {})
        answers = []
        for item in json.loads(body)["files"]:
            sample = base64.b64decode(item["sample"])
            lfs = item["path"].endswith(LFS_SUFFIXES) or item["size"] >= LFS_MIN_SIZE or b"\0" in sample
            existing = tree.get(item["path"])
            answers.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": existing.oid if existing else None,
                }
            )
        return self._json({"files": answers})

    def _lfs_batch(self, repo, authorized, body, **_):
        self._repo(repo, authorized, write=True)
        objects = []
        for obj in json.loads(body)["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs_objects:
                entry["actions"] = {
                    "upload": {"href": f"{self.endpoint}/lfs-objects/{obj['oid']}"},
                    "verify": {"href": f"{self.endpoint}/lfs-verify"},
                }
            objects.append(entry)
        return self._json({"transfer": "basic", "objects": objects})

    def _lfs_put(self, oid, body, **_):
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, f"LFS object does not match its oid {oid}")
        self.lfs_objects[oid] = body
        return 200, {}, b""

    def _lfs_verify(self, authorized, body, **_):
        payload = json.loads(body)
        stored = self.lfs_objects.get(payload["oid"])
        if not authorized or stored is None or len(stored) != payload["size"]:
            raise HubError(404, f"LFS object {payload['oid']} not found")
        return self._json({"success": True})

    def _commit(self, repo, revision, authorized, body, **_):
        found = self._repo(repo, authorized, write=True)
        parent = self._commit_of(found, revision)
        tree = dict(found.commits[parent])
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        if header.get("parentCommit") not in (None, parent):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "file":
                tree[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                if value["oid"] not in self.lfs_objects:
                    raise HubError(422, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                tree[value["path"]] = StoredFile(self.lfs_objects[value["oid"]], lfs=True)
            elif key == "deletedFile":
                tree.pop(value["path"], None)
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                tree = {p: f for p, f in tree.items() if not p.startswith(prefix)}
            elif key != "header":
                raise HubError(400, f"unknown commit operation {key!r}")
        sha = hashlib.sha1(parent.encode() + body).hexdigest()
        found.commits[sha] = tree
        found.branches[unquote(revision)] = sha
        return self._json(
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self.endpoint}/{repo}/commit/{sha}",
                "pullRequestUrl": None,
            }
        )

    def _info(self, repo, authorized, revision=None, **_):
        found = self._repo(repo, authorized)
        sha = self._commit_of(found, revision or "main")
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return self._json(
            {
                "id": repo,
                "modelId": repo,
                "sha": sha,
                "private": found.private,
                "disabled": False,
                "gated": False,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "createdAt": now,
                "lastModified": now,
                "siblings": [{"rfilename": p} for p in sorted(found.commits[sha])],
            }
        )

    def _tree(self, repo, revision, authorized, query, prefix=None, **_):
        found = self._repo(repo, authorized)
        tree = found.commits[self._commit_of(found, revision)]
        prefix = (prefix or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        entries, folders = [], set()
        for path in sorted(tree):
            if prefix and not path.startswith(prefix + "/"):
                continue
            relative = PurePosixPath(path).relative_to(prefix) if prefix else PurePosixPath(path)
            if not recursive and len(relative.parts) > 1:
                folders.add(f"{prefix}/{relative.parts[0]}" if prefix else relative.parts[0])
                continue
            stored = tree[path]
            entry = {"type": "file", "path": path, "size": len(stored.content), "oid": git_blob_sha1(stored.content)}
            if stored.lfs:
                entry["lfs"] = {"oid": stored.sha256, "size": len(stored.content), "pointerSize": 134}
            entries.append(entry)
        entries += [{"type": "directory", "path": folder, "oid": "0" * 40, "size": 0} for folder in sorted(folders)]
        return self._json(entries)

    def _resolve(self, method, repo, revision, filename, authorized, **_):
        found = self._repo(repo, authorized)
        sha = self._commit_of(found, revision)
        stored = found.commits[sha].get(filename)
        if stored is None:
            raise HubError(404, f"{filename} does not exist at {revision}", "EntryNotFound")
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{stored.oid}"',
            "Content-Type": "application/octet-stream",
            "Last-Modified": formatdate(usegmt=True),
        }
        if stored.lfs:
            headers.update({"X-Linked-Etag": f'"{stored.sha256}"', "X-Linked-Size": str(len(stored.content))})
        return 200, headers, stored.content


def _make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = b"" if self.command in ("GET", "HEAD") else self._read_body()
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, response_headers, payload = hub.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for key, value in response_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = _serve

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

    return Handler
