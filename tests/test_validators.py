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

    assert parsed == [
        {
            "name": "person",
            "plural": "people",
            "class_name": "Person",
            "noun": "person",
            "fields": [
                {
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
    expected = ["categories", "people", "boxes", "blog_entries", "flock", "users"]
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
