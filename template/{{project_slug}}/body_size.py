"""413 for a request body over the configured size, before the app reads or echoes any of it.

Plain ASGI, like security.py. A declared `Content-Length` is checked before anything is read (the
server never hands over more than it declares); a chunked body, which declares none, is read up
to the limit here and then handed to the app whole. A request with neither has no body.
"""

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
        elif declared is None and "chunked" in headers.get("transfer-encoding", "").lower():
            await self._read_chunked(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _read_chunked(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay(whole, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body is larger than {self.max_bytes} bytes"
        refusal = JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})
        await refusal(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive` that answers `first` once, then goes on as the server's own."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
