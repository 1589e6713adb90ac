"""A minimal FastAPI + ChatKit backend whose chat history lives in threadstore.

The browser signs in with Better Auth and sends the user's JWT (``authClient.token()``) as
``Authorization: Bearer <jwt>`` on every ChatKit request (README.md shows the front end's
part). This app does not verify the token itself: it hands it, through ChatKit's request
context, to ``threadstore_chatkit.ThreadStore``, which forwards it to threadstore, which
verifies it against Better Auth's JWKS and scopes every thread, item and attachment to the
token's ``sub``. One user can never read another's history, whatever this app does.

Run (see README.md)::

    THREADSTORE_URL=http://127.0.0.1:8080 uvicorn app:app --port 8000

The assistant here is a stand-in that needs no model: it answers with what it sees in the
thread's stored history, which is enough to show that history survives restarts. Replace
``respond`` with your agent (``chatkit.agents.stream_agent_response``) in a real backend.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from threadstore_chatkit import AuthenticationError, ThreadStore


@dataclass
class RequestContext:
    """What ChatKit passes to every Store call: here, the caller's token.

    ``threadstore_token`` is the attribute ThreadStore's default token hook reads."""

    threadstore_token: str


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _text_of(item: UserMessageItem) -> str:
    return " ".join(c.text for c in item.content if isinstance(c, UserMessageTextContent))


class HistoryServer(ChatKitServer[RequestContext]):
    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        # Read the thread's history back from threadstore (the new message is already in it).
        page = await self.store.load_thread_items(thread.id, None, 100, "asc", context)
        earlier = [
            _text_of(i) for i in page.data
            if isinstance(i, UserMessageItem) and (input_user_message is None or i.id != input_user_message.id)
        ]
        said = _text_of(input_user_message) if input_user_message else ""
        text = f"You said: {said}. Earlier in this thread: {earlier}."
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(timezone.utc),
                content=[AssistantMessageContent(text=text)],
            )
        )


store: ThreadStore[RequestContext] = ThreadStore(
    os.environ.get("THREADSTORE_URL", "http://127.0.0.1:8080")
)
server = HistoryServer(store)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await store.aclose()  # the keep-alive pool to threadstore


app = FastAPI(lifespan=lifespan)


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


@app.post("/chatkit")
async def chatkit_endpoint(request: Request) -> Response:
    token = bearer_token(request)
    if token is None:
        return _error(401, "unauthorized", "sign in: Authorization: Bearer <Better Auth JWT>")
    context = RequestContext(threadstore_token=token)
    try:
        # One cheap authenticated call first, so that a bad or expired token is a 401 here
        # rather than an error event inside a stream that has already answered 200.
        await store.load_threads(1, None, "desc", context)
        result = await server.process(await request.body(), context)
    except AuthenticationError as exc:
        return _error(401, "unauthorized", exc.message or "invalid token")
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
    if isinstance(result, StreamingResult):
        return StreamingResponse(result, media_type="text/event-stream")
    return Response(content=result.json, media_type="application/json")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
