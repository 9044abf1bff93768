"""What makes two requests "the same request" for an Idempotency-Key: the method, the path and the
body, hashed as the body streams (an upload is never held in memory to be hashed).

A JSON body is taken byte for byte. A multipart form is taken part by part — each part's name,
filename and content, in any order — and not as raw bytes: a client draws a new boundary for every
send, so the raw bytes of a retry of the same file never match.
"""

from __future__ import annotations

import hashlib

FORM_MARKER = b"multipart/form-data\n"


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """The fingerprint of a request whose body is read whole (JSON, at most the API's body cap)."""
    fingerprint = BodyFingerprint(method, path)
    fingerprint.update(body)
    return fingerprint.hexdigest()


class BodyFingerprint:
    """`request_fingerprint`, fed a chunk at a time."""

    def __init__(self, method: str, path: str) -> None:
        self._hash = hashlib.sha256(b"\n".join([method.encode(), path.encode(), b""]))

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _framed(text: str | None) -> bytes:
    """A length-prefixed field, so no name or filename can run into the next one."""
    if text is None:
        return b"-\n"
    raw = text.encode()
    return b"%d:%s\n" % (len(raw), raw)


class FormFingerprint:
    """The fingerprint of a multipart form, taken while its parts stream: call `begin_part`, then
    `update` with each piece of the part's content, then `end_part`, for every part."""

    def __init__(self, method: str, path: str) -> None:
        self._method, self._path = method, path
        self._parts: list[str] = []
        self._part: hashlib._Hash | None = None

    def begin_part(self, name: str, filename: str | None) -> None:
        if self._part is not None:
            raise RuntimeError("a part began before the previous one ended")
        self._part = hashlib.sha256(_framed(name) + _framed(filename))

    def update(self, data: bytes) -> None:
        if self._part is None:
            raise RuntimeError("part data outside a part")
        self._part.update(data)

    def end_part(self) -> None:
        if self._part is None:
            raise RuntimeError("a part ended that never began")
        self._parts.append(self._part.hexdigest())
        self._part = None

    def hexdigest(self) -> str:
        fingerprint = BodyFingerprint(self._method, self._path)
        fingerprint.update(FORM_MARKER)
        fingerprint.update("\n".join(sorted(self._parts)).encode())
        return fingerprint.hexdigest()
