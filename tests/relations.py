"""A client's session with the graph sample (samples.GRAPH_RESOURCES) over HTTP: references,
embedding, filters, rules and deletes, as a frontend would drive them.

Writers, shelves, topics and articles: an article has a writer (required), an editor (optional,
cleared when the editor goes), a shelf (optional, deleted with it) and topics (a many-to-many);
a writer may have a mentor.
"""

from dataclasses import dataclass, field

import httpx

from .walk import JSON, bearer, login, make_user


@dataclass
class Transcript:
    """What was asked and answered, for a person to read (the closing note shows one)."""

    lines: list[str] = field(default_factory=list)

    def record(self, response: httpx.Response) -> httpx.Response:
        request = response.request
        body = request.content.decode() if request.content else ""
        self.lines.append(f"> {request.method} {request.url.raw_path.decode()} {body}".rstrip())
        self.lines.append(f"< {response.status_code} {response.text[:300]}")
        return response


def relations_session(base_url: str, superuser_email: str, superuser_password: str) -> Transcript:
    """Drive the graph; raise AssertionError at the first answer that is not the documented one."""
    transcript = Transcript()
    with httpx.Client(base_url=base_url, timeout=10) as client:
        admin = login(client, superuser_email, superuser_password)
        alice = bearer(make_user(client, admin, "alice@example.com"))
        bob = bearer(make_user(client, admin, "bob@example.com"))

        def call(method: str, path: str, headers: dict[str, str], **options: object) -> JSON:
            response = transcript.record(client.request(method, path, headers=headers, **options))
            return {
                "status": response.status_code,
                "body": response.json() if response.content else None,
            }

        def made(path: str, body: JSON, headers: dict[str, str] = alice) -> int:
            answer = call("POST", path, headers, json=body)
            assert answer["status"] == 201, answer
            return int(answer["body"]["id"])

        ursula = made("/writers", {"name": "Ursula", "email": "ursula@example.com"})
        tove = made("/writers", {"name": "Tove", "email": "tove@example.com", "mentor_id": ursula})
        shelf = made("/shelves", {"label": "Essays", "capacity": 20})
        science = made("/topics", {"name": "science"})
        fiction = made("/topics", {"name": "fiction"})
        article = {"status": "draft", "words": 1200, "writer_id": ursula}
        essay = made(
            "/articles",
            {
                **article,
                "title": "On Dune",
                "editor_id": tove,
                "shelf_id": shelf,
                "topic_ids": [science, fiction],
            },
        )
        notes = made(
            "/articles", {**article, "title": "Notes", "status": "published", "words": 300}
        )
        sketch = made("/articles", {**article, "title": "Sketch", "writer_id": tove, "words": 50})

        # Filters: by reference, by a missing reference, by several values, by range, by text.
        queries = {
            "writer_id=ursula": ({"writer_id": ursula}, [essay, notes]),
            "writer_id_in": ({"writer_id_in": [ursula, tove]}, [essay, notes, sketch]),
            "editor_id_null": ({"editor_id_null": "true"}, [notes, sketch]),
            "status_in": ({"status_in": ["published", "archived"]}, [notes]),
            "words_min": ({"words_min": 300}, [essay, notes]),
            "q": ({"q": "dUNe"}, [essay]),
            "title_contains": ({"title_contains": "ote"}, [notes]),
            "sort by two fields": ({"sort": "-status,words"}, [notes, sketch, essay]),
            "topic_id": ({"topic_id": fiction}, [essay]),
        }
        for label, (params, expected) in queries.items():
            answer = call("GET", "/articles", alice, params=params)
            assert [item["id"] for item in answer["body"]["items"]] == expected, (label, answer)

        # Embedding: the writer and editor of each article of a page, a writer's mentor.
        page = call("GET", "/articles", alice, params={"include": "writer,editor", "sort": "id"})
        first = page["body"]["items"][0]
        assert (first["writer"]["name"], first["editor"]["id"]) == ("Ursula", tove), first
        assert page["body"]["items"][1]["editor"] is None
        mentor = call("GET", f"/writers/{tove}", alice, params={"include": "mentor"})
        assert mentor["body"]["mentor"]["id"] == ursula, mentor
        plain = call("GET", f"/articles/{essay}", alice)
        assert plain["body"]["writer"] is None, plain

        # A cycle of references: a writer pins one of their articles, which names them.
        pinning = call("PATCH", f"/writers/{ursula}", alice, json={"pinned_id": notes})
        assert pinning["body"]["pinned_id"] == notes, pinning
        pinned = call("GET", f"/writers/{ursula}", alice, params={"include": "pinned"})
        assert pinned["body"]["pinned"]["writer_id"] == ursula, pinned

        # Links: replaced as a whole, an invisible one refused, gone with the row linked.
        linked = call("PATCH", f"/articles/{notes}", alice, json={"topic_ids": [science]})
        assert linked["body"]["topic_ids"] == [science], linked
        theirs = made("/topics", {"name": "bob's"}, bob)
        refused = call("PATCH", f"/articles/{notes}", alice, json={"topic_ids": [theirs]})
        assert refused["body"]["detail"][0]["loc"] == ["body", "topic_ids"], refused
        assert call("DELETE", f"/topics/{science}", alice)["status"] == 204
        assert call("GET", f"/articles/{essay}", alice)["body"]["topic_ids"] == [fiction]

        # A many-to-many to its own resource: a topic's subtopics.
        drama = made("/topics", {"name": "drama"})
        parent = call("PATCH", f"/topics/{fiction}", alice, json={"subtopic_ids": [drama]})
        assert parent["body"]["subtopic_ids"] == [drama], parent
        above = call("GET", "/topics", alice, params={"subtopic_id": drama})
        assert [item["id"] for item in above["body"]["items"]] == [fiction], above

        # Another user's row and a missing one are refused alike, on the field.
        for row_id in (ursula, 2**31 - 1):
            refused = call(
                "POST", "/articles", bob, json={**article, "title": "Mine", "writer_id": row_id}
            )
            assert refused["status"] == 422, refused
            assert refused["body"]["detail"][0]["loc"] == ["body", "writer_id"], refused

        # Rules: a bound, an enum value, a format, an empty required text.
        for name, value in (("words", 0), ("status", "lost"), ("title", ""), ("fee", "-1")):
            refused = call("POST", "/articles", alice, json={**article, "title": "T", name: value})
            assert refused["status"] == 422, refused
            assert refused["body"]["detail"][0]["loc"] == ["body", name], refused
        refused = call("POST", "/writers", alice, json={"name": "Ed", "email": "not-an-email"})
        assert refused["body"]["detail"][0]["loc"] == ["body", "email"], refused

        # Deletes: refused while articles name the writer, clearing the editor, down the shelf.
        refused = call("DELETE", f"/writers/{tove}", alice)
        assert refused["status"] == 409, refused
        assert f"articles {sketch} (writer_id)" in refused["body"]["detail"], refused
        assert call("DELETE", f"/articles/{sketch}", alice)["status"] == 204
        assert call("DELETE", f"/writers/{tove}", alice)["status"] == 204
        assert call("GET", f"/articles/{essay}", alice)["body"]["editor_id"] is None
        assert call("DELETE", f"/shelves/{shelf}", alice)["status"] == 204
        assert call("GET", f"/articles/{essay}", alice)["status"] == 404
        assert call("GET", f"/articles/{notes}", alice)["status"] == 200
        assert call("DELETE", f"/articles/{notes}", alice)["status"] == 204
        assert call("GET", f"/writers/{ursula}", alice)["body"]["pinned_id"] is None
    return transcript
