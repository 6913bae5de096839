"""Every question refuses a bad answer with a message saying what is allowed, and writes nothing."""

from pathlib import Path

import pytest

from .conftest import copier_copy

BAD_ANSWERS = [
    ("project_name", " ", "Give the project a name"),
    ("project_name", "x" * 81, "80 characters or fewer"),
    ("project_slug", "My-API", "must be lower_snake_case"),
    ("project_slug", "9lives", "must be lower_snake_case"),
    ("project_slug", "api_", "must not end with '_'"),
    ("project_slug", "class", "is a Python keyword"),
    ("project_slug", "select", "is a reserved SQL word"),
    ("project_slug", "json", "would shadow the standard library module 'json'"),
    ("project_slug", "fastapi", "would shadow the 'fastapi' module the project depends on"),
    ("project_slug", "tests_api", "would be collected by pytest"),
    ("description", "x" * 201, "one line of at most 200 characters"),
    ("author_name", " ", "Give an author name"),
    ("author_email", "nobody", "'nobody' is not an email address"),
    ("first_superuser_email", "root@localhost", "is not an email address"),
    ("open_registration", "maybe", "'maybe' is not a yes/no answer for open_registration"),
    ("admin", "2", "'2' is not a yes/no answer for admin; give true or false"),
    ("python_version", "3.10", "is not in ['3.11', '3.12', '3.13']"),
    ("database", "mysql", "is not in ['sqlite', 'postgresql']"),
    ("resources", ";", "Give at least one resource"),
    ("resources", "book", "Resource 'book' has no fields"),
    ("resources", "Book title:str(10)", "Resource name 'Book' must be lower_snake_case"),
    ("resources", "class name:str(10)", "Resource name 'class' is a Python keyword"),
    ("resources", "order name:str(10)", "Resource name 'order' is a reserved SQL word"),
    ("resources", "user name:str(10)", "'users' is taken by the built-in users module"),
    ("resources", "book a:int; book b:int", "'book' is used twice"),
    ("resources", "fish a:int; fishes(fish) b:int", "'fish' is used twice"),
    ("resources", "b(c)(d) a:int", "must be written name or name(plural)"),
    ("resources", "a" * 21 + " title:str(10)", "names take at most 20 characters"),
    ("resources", "book title", "needs a type: write name:type"),
    ("resources", "book title:string", "unknown type 'string'; allowed: str(N), text"),
    ("resources", "book title:str", "needs a max length from 1 to 10000"),
    ("resources", "book title:str(0)", "needs a max length from 1 to 10000"),
    ("resources", "book count:int(5)", "takes no size; only str(N) and decimal(P,S) do"),
    ("resources", "book price:decimal(2,5)", "decimal(P,S) with 1 <= P <= 38 and S <= P"),
    ("resources", "book title:str(9):nullable", "allowed once each: null, unique, index"),
    ("resources", "book title:str(9):null:null", "allowed once each: null, unique, index"),
    ("resources", "book isbn:str(9):unique:index", "give unique or index, not both"),
    ("resources", "book id:int", "clashes with a name every resource already has"),
    ("resources", "book model_name:str(9)", "clashes with a name every resource already has"),
    ("resources", "book import:int", "Field 'book.import' is a Python keyword"),
    ("resources", "book title:int title:text", "Field 'book.title' is given twice"),
    ("resources", "book " + "f" * 21 + ":int", "field names take at most 20 characters"),
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
def test_every_project_name_derives_a_valid_slug(name: str, slug: str, tmp_path: Path) -> None:
    result = copier_copy(tmp_path / "project", {"project_name": name})

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "project" / slug / "main.py").exists()


def test_bool_answers_take_yes_and_no_words(tmp_path: Path) -> None:
    result = copier_copy(tmp_path / "project", {"open_registration": "Yes", "admin": "off"})

    assert result.returncode == 0, result.stderr
    answers = (tmp_path / "project" / ".copier-answers.yml").read_text()
    assert "open_registration: true\n" in answers
    assert "admin: false\n" in answers
