"""uvicorn's HTTP/1.1 protocol (httptools), answering what never reaches the app in the
service's JSON error shape: a request it cannot parse (a Content-Length that is not a
number, a broken request line or header) gets a 400 `malformed_request` in JSON, not
uvicorn's plain text."""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

BODY = orjson.dumps(
    {
        "error": {
            "code": "malformed_request",
            "message": "The HTTP request could not be parsed.",
            "details": {},
        }
    }
)


class JsonErrorsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(BODY)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + BODY)
        self.transport.close()
