"""Every question refuses a bad answer with a message saying what is allowed, and writes nothing."""

import re
from pathlib import Path

import pytest

from .answers import call, parse_resources, resources
from .conftest import TEMPLATE, copier_copy

# Refused by copier.yml's own validators (or copier's choices), asked through copier itself.
BAD_ANSWERS = [
    ("project_name", " ", "Give the project a name"),
    ("project_name", "x" * 81, "80 characters or fewer"),
    ("project_slug", "class", "is a Python keyword"),
    ("description", "x" * 201, "one line of at most 200 characters"),
    ("author_name", " ", "Give an author name"),
    ("author_email", "nobody", "'nobody' is not an email address"),
    ("first_superuser_email", "root@localhost", "is not an email address"),
    ("open_registration", "maybe", "'maybe' is not a yes/no answer for open_registration"),
    ("admin", "2", "'2' is not a yes/no answer for admin; give true or false"),
    ("python_version", "3.10", "is not in ['3.11', '3.12', '3.13']"),
    ("database", "mysql", "is not in ['sqlite', 'postgresql']"),
    ("resources", "book title:string", "unknown type 'string'; allowed: str(N), text"),
]

# Every branch of the slug validator (includes/answers.jinja: slug_error), run in-process.
BAD_SLUGS = [
    ("My-API", "must be lower_snake_case"),
    ("9lives", "must be lower_snake_case"),
    ("api_", "must not end with '_'"),
    ("my__api", "must not end with '_' or contain '__'"),
    ("class", "is a Python keyword"),
    ("select", "is a reserved SQL word"),
    ("json", "would shadow the standard library module 'json'"),
    ("fastapi", "would shadow the 'fastapi' module the project depends on"),
    ("tests_api", "would be collected by pytest"),
]

# Every branch of the resources parser (includes/answers.jinja: parse_resources), in-process.
BAD_RESOURCES = [
    (";", "Give at least one resource"),
    ("book", "Resource 'book' has no fields"),
    ("Book title:str(10)", "Resource name 'Book' must be lower_snake_case"),
    ("book(Books) title:str(10)", "Plural 'Books' must be lower_snake_case"),
    ("class name:str(10)", "Resource name 'class' is a Python keyword"),
    ("order name:str(10)", "Resource name 'order' is a reserved SQL word"),
    ("user name:str(10)", "'users' is taken by the built-in users module"),
    ("book a:int; book b:int", "'book' is used twice"),
    ("fish a:int; fishes(fish) b:int", "'fish' is used twice"),
    ("b(c)(d) a:int", "must be written name or name(plural)"),
    ("a" * 21 + " title:str(10)", "names take at most 20 characters"),
    ("book(" + "b" * 26 + ") title:str(10)", "names take at most 20 characters, plurals 25"),
    ("book title", "needs a type: write name:type"),
    ("book Title:int", "Field 'book.Title' must be lower_snake_case"),
    ("book title:string", "unknown type 'string'; allowed: str(N), text"),
    ("book title:str", "needs a max length from 1 to 10000"),
    ("book title:str(0)", "needs a max length from 1 to 10000"),
    ("book title:str(10001)", "needs a max length from 1 to 10000"),
    ("book title:str(5,2)", "needs a max length from 1 to 10000"),
    ("book count:int(5)", "takes no size; only str(N) and decimal(P,S) do"),
    ("book price:decimal(2,5)", "decimal(P,S) with 1 <= P <= 38 and S <= P"),
    ("book price:decimal(39,2)", "decimal(P,S) with 1 <= P <= 38 and S <= P"),
    ("book price:decimal(10)", "decimal(P,S) with 1 <= P <= 38 and S <= P"),
    ("book title:str(9):nullable", "allowed once each: null, unique, index"),
    ("book title:str(9):null:null", "allowed once each: null, unique, index"),
    ("book isbn:str(9):unique:index", "give unique or index, not both"),
    ("book id:int", "clashes with a name every resource already has"),
    ("book model_name:str(9)", "clashes with a name every resource already has"),
    ("book import:int", "Field 'book.import' is a Python keyword"),
    ("book title:int title:text", "Field 'book.title' is given twice"),
    ("book " + "f" * 21 + ":int", "field names take at most 20 characters"),
    ("book state:enum()", "is an enum without values"),
    ("book state:enum(draft)", "is an enum of one value; give at least two"),
    ("book state:enum(draft,draft)", "lists an enum value twice"),
    ("book state:enum(Draft,done)", "has enum value 'Draft'; values are lower-case letters"),
    ("book state:enum(a,,b)", "has enum value ''"),
    ("book state:enum(a,b)(c)", "unknown type 'enum(a,b)(c)'"),
    ("book state:enum(a,b):min=1", "of type enum takes no min or max"),
    ("book day:date:max=3", "of type date takes no min or max"),
    ("book pages:int:min", "allowed once each: null, unique, index, email, url, min=N, max=N"),
    ("book pages:int:min=1:min=2", "allowed once each"),
    ("book pages:int:min=1.5", "has bound '1.5'; an int's bounds are whole numbers"),
    ("book price:decimal:max=ten", "bounds are numbers such as 0, -5 or 9.99"),
    ("book title:str(20):min=-1", "a length is a whole number from 0"),
    ("book pages:int:max=2147483648", "outside an int's range"),
    ("book pages:int:min=9:max=1", "has min=9 greater than max=1"),
    ("book rating:float:min=0.5:max=0.25", "has min=0.5 greater than max=0.25"),
    ("book title:str(20):min=21", "has min=21, longer than its max length 20"),
    ("book title:str(20):max=10", "whose N is its max length: give min=N only"),
    ("book pages:int:email", "of type int takes no email or url"),
    ("book site:str(99):email:url", "is given email and url"),
    ("book mail:str(99):email:min=3", "has a format, which already refuses"),
    ("book price:int price_min:int", "has the name of the list filter price_min of field 'price'"),
    ("book blurb:text:null blurb_null:bool", "list filter blurb_null"),
    ("book q:str(10)", "clashes with a name every resource already has"),
    (
        "book writer:ref(author)",
        "refers to 'author', which is not a resource here; resources: book",
    ),
    ("book writer:ref()", "refers to '', which is not a resource here"),
    ("category parent:ref(category)", "refers to its own resource, so it needs :null"),
    ("a x:ref(b); b y:ref(a)", "References between a, b form a cycle of required references"),
    ("a x:ref(b); b tags:refs(a)", "give one of the references :null"),
    ("a x:ref(b); b y:ref(c); c z:ref(a)", "References between a, b, c form a cycle"),
    ("book author_id:ref(author); author n:int", "name it after what it refers to (author:ref"),
    ("book author:ref(author):index; author n:int", "a reference, which is always indexed"),
    ("book author:ref(author):set_null; author n:int", "is set_null, which needs :null too"),
    ("book author:ref(author):null:set_null:cascade; author n:int", "give one"),
    ("book pages:int:cascade", "of type int takes no cascade or set_null"),
    ("book author:ref(author):min=1; author n:int", "of type ref takes no min or max"),
    ("book author:ref(author) author_id_in:int; author n:int", "list filter author_id_in"),
    ("book tag:refs(tag); tag n:int", "name it with a plural noun, e.g. tags:refs(tag)"),
    ("book tags:refs(tag):unique; tag n:int", "a many-to-many, which takes no flags"),
    ("book books:refs(book)", "links book to itself, so its link table would have two columns"),
    ("book tags:refs(label)", "refers to 'label', which is not a resource here"),
    ("book tags:refs(tag) tag_ids:int; tag n:int", "list filter tag_ids of field 'tags'"),
    (
        f"{'b' * 20}({'c' * 25}) {'d' * 19}s:refs(e); e n:int",
        "would name a foreign key of its table",
    ),
    (
        "b" * 20
        + "("
        + "c" * 25
        + ") "
        + "d" * 20
        + ":ref("
        + "e" * 20
        + "); "
        + "e" * 20
        + "("
        + "f" * 25
        + ") n:int",
        "over the 63 characters PostgreSQL keeps",
    ),
]


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    BAD_ANSWERS,
    ids=[f"{question}={answer[:24]}" for question, answer, _ in BAD_ANSWERS],
)
def test_bad_answer_is_refused_with_a_message(
    question: str, answer: str, message: str, tmp_path: Path
) -> None:
    destination = tmp_path / "project"

    result = copier_copy(destination, {question: answer})

    assert result.returncode != 0
    assert message in result.stderr
    assert not destination.exists()


@pytest.mark.parametrize(("slug", "message"), BAD_SLUGS, ids=[slug for slug, _ in BAD_SLUGS])
def test_bad_slug_is_refused_with_a_message(slug: str, message: str) -> None:
    assert message in call("slug_error", slug)


@pytest.mark.parametrize(
    ("answer", "message"), BAD_RESOURCES, ids=[answer[:24] for answer, _ in BAD_RESOURCES]
)
def test_bad_resources_are_refused_with_a_message(answer: str, message: str) -> None:
    errors = parse_resources(answer)["errors"]

    assert any(message in error for error in errors), errors


def test_good_resources_parse_into_data() -> None:
    parsed = resources("person(people) name:str(100):unique age:int:null:index price:decimal(5,1)")
    no_rules = {
        "choices": None,
        "min": None,
        "max": None,
        "format": None,
        "target": None,
        "on_delete": None,
        "item": None,
        "deferred": False,
        "target_plural": None,
        "target_class": None,
    }

    assert parsed == [
        {
            "name": "person",
            "plural": "people",
            "class_name": "Person",
            "noun": "person",
            "referred_to": False,
            "delete_refused": False,
            "fields": [
                {
                    **no_rules,
                    "name": "name",
                    "type": "str",
                    "length": 100,
                    "precision": None,
                    "scale": None,
                    "nullable": False,
                    "unique": True,
                    "index": False,
                },
                {
                    **no_rules,
                    "name": "age",
                    "type": "int",
                    "length": None,
                    "precision": None,
                    "scale": None,
                    "nullable": True,
                    "unique": False,
                    "index": True,
                },
                {
                    **no_rules,
                    "name": "price",
                    "type": "decimal",
                    "length": None,
                    "precision": 5,
                    "scale": 1,
                    "nullable": False,
                    "unique": False,
                    "index": False,
                },
            ],
        }
    ]
    assert resources("blog_entry body:text price:decimal")[0]["fields"][1]["precision"] == 12


def test_references_order_parents_first_and_parse_into_data() -> None:
    parsed = resources(
        "book author:ref(author) shelf:ref(shelf):null:cascade editor:ref(author):null:set_null; "
        "shelf label:str(9); author mentor:ref(author):null"
    )

    assert [resource["name"] for resource in parsed] == ["shelf", "author", "book"]
    references = [
        (field["name"], field["target"], field["nullable"], field["on_delete"])
        for field in parsed[2]["fields"]
    ]
    assert references == [
        ("author", "author", False, None),
        ("shelf", "shelf", True, "CASCADE"),
        ("editor", "author", True, "SET NULL"),
    ]
    assert parsed[1]["fields"][0]["target"] == "author"
    assert [(resource["referred_to"], resource["delete_refused"]) for resource in parsed] == [
        (True, False),
        (True, True),
        (False, False),
    ]
    assert (parsed[2]["fields"][0]["target_plural"], parsed[2]["fields"][0]["target_class"]) == (
        "authors",
        "Author",
    )


def test_a_cycle_of_references_starts_at_an_optional_one_whose_key_comes_later() -> None:
    parsed = resources(
        "employee department:ref(department) name:str(9); "
        "department head:ref(employee):null deputy:ref(employee):null:set_null; "
        "ant x:ref(bee); bee y:ref(cat):null; cat z:ref(ant):null"
    )

    names = [resource["name"] for resource in parsed]
    assert names == ["department", "employee", "bee", "ant", "cat"]
    deferred = {
        f"{resource['name']}.{field['name']}"
        for resource in parsed
        for field in resource["fields"]
        if field["deferred"]
    }
    assert deferred == {"department.head", "department.deputy", "bee.y"}


def test_a_many_to_many_names_its_ids_after_the_singular() -> None:
    fields = resources(
        "book tags:refs(tag) categories:refs(tag) co_authors:refs(person) people:refs(person); "
        "tag n:int; person n:int"
    )[2]["fields"]

    assert [(field["name"], field["item"]) for field in fields] == [
        ("tags", "tag"),
        ("categories", "category"),
        ("co_authors", "co_author"),
        ("people", "person"),
    ]


def test_answers_without_references_keep_their_order() -> None:
    names = [resource["name"] for resource in resources("zebra a:int; apple b:int; mango c:int")]

    assert names == ["zebra", "apple", "mango"]


def test_rules_parse_into_data() -> None:
    fields = resources(
        "book state:enum(draft,in-review) pages:int:min=-5:max=9 price:decimal(6,2):min=0.5 "
        "title:str(30):min=0 mail:str(254):email:null site:str(300):url"
    )[0]["fields"]

    rules = [
        {key: field[key] for key in ("type", "length", "choices", "min", "max", "format")}
        for field in fields
    ]
    assert rules == [
        {
            "type": "enum",
            "length": 9,
            "choices": ["draft", "in-review"],
            "min": None,
            "max": None,
            "format": None,
        },
        {"type": "int", "length": None, "choices": None, "min": "-5", "max": "9", "format": None},
        {
            "type": "decimal",
            "length": None,
            "choices": None,
            "min": "0.5",
            "max": None,
            "format": None,
        },
        {"type": "str", "length": 30, "choices": None, "min": "0", "max": None, "format": None},
        {
            "type": "str",
            "length": 254,
            "choices": None,
            "min": None,
            "max": None,
            "format": "email",
        },
        {"type": "str", "length": 300, "choices": None, "min": None, "max": None, "format": "url"},
    ]


@pytest.mark.parametrize(
    ("answer", "refused"), [("yes", False), ("Off", False), ("1", False), ("maybe", True)]
)
def test_bool_words(answer: str, refused: bool) -> None:
    assert bool(call("bool_error", "admin", answer)) == refused


def test_plurals_are_derived_and_can_be_given(tmp_path: Path) -> None:
    resources = "category a:int; person b:int; box c:int; blog_entry d:int; goose(flock) e:int"
    result = copier_copy(tmp_path / "project", {"resources": resources})

    assert result.returncode == 0, result.stderr
    versions = tmp_path / "project" / "migrations" / "versions"
    created = sorted(path.name for path in versions.glob("create_*.py"))
    expected = ["categories", "people", "boxes", "blog_entries", "flock", "users", "change_events"]
    assert created == sorted(f"create_{plural}.py" for plural in expected)


def test_field_order_survives_the_answers_file(tmp_path: Path) -> None:
    resources = "book zeta:int alpha:int:null mid:str(5)"
    result = copier_copy(tmp_path / "project", {"resources": resources})

    assert result.returncode == 0, result.stderr
    answers = (tmp_path / "project" / ".copier-answers.yml").read_text()
    assert f"resources: {resources}\n" in answers
    model = (tmp_path / "project" / "my_api" / "book" / "model.py").read_text()
    assert model.index("zeta") < model.index("alpha") < model.index("mid")


DERIVED_SLUGS = [
    ("My API", "my_api"),
    ("Class", "class_api"),
    ("Order", "order_api"),
    ("json", "json_api"),
    ("FastAPI", "fastapi_api"),
    ("Test", "app_test"),
    ("42 Shop", "app_42_shop"),
    ("!!!", "app"),
]


@pytest.mark.parametrize(("name", "slug"), DERIVED_SLUGS, ids=[name for name, _ in DERIVED_SLUGS])
def test_every_project_name_derives_a_valid_slug(name: str, slug: str) -> None:
    assert call("default_slug", name) == slug
    assert call("slug_error", slug) == ""


def test_a_refused_plain_slug_renders_with_the_derived_one(tmp_path: Path) -> None:
    result = copier_copy(tmp_path / "project", {"project_name": "Class"})

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "project" / "class_api" / "main.py").exists()


def test_bool_answers_take_yes_and_no_words(tmp_path: Path) -> None:
    result = copier_copy(tmp_path / "project", {"open_registration": "Yes", "admin": "off"})

    assert result.returncode == 0, result.stderr
    answers = (tmp_path / "project" / ".copier-answers.yml").read_text()
    assert "open_registration: true\n" in answers
    assert "admin: false\n" in answers


def rendered_names() -> list[str]:
    """The project's own module and package names, and what its test modules test: a resource
    of one of those names would shadow it or clash with its test module."""
    package = TEMPLATE / "template" / "{{project_slug}}"
    names = [re.sub(r"\{%.*?%\}|\.py|\.jinja", "", path.name) for path in package.iterdir()]
    tests = (TEMPLATE / "template" / "tests").glob("test_*.py*")
    names += [re.sub(r"^test_|\.py|\.jinja", "", path.name) for path in tests]
    return sorted(name for name in set(names) if name.isidentifier() and name != "__init__")


@pytest.mark.parametrize("name", rendered_names())
def test_a_resource_cannot_take_a_name_the_project_uses(name: str) -> None:
    errors = parse_resources(f"{name} a:int")["errors"]

    assert any("is taken by the built-in" in error for error in errors), errors
