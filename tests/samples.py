"""The answer sets the suite renders: each must install, lint, migrate, pass and serve."""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

COPIER_YML = Path(__file__).resolve().parent.parent / "copier.yml"
# copier.yml's own default answer.
DEFAULT_RESOURCES: str = yaml.safe_load(COPIER_YML.read_text())["resources"]["default"]


@dataclass(frozen=True)
class Sample:
    name: str
    answers: dict[str, str] = field(default_factory=dict)
    # Whether fuzzing it can find what fuzzing the others cannot: not when its API is another
    # sample's, or part of one (the defaults' is part of registration's).
    fuzzed: bool = True


# Three resources that together use every field type and flag, with awkward names: an irregular
# plural, an explicit plural, a two-word name, a one-character string and a scale-0 decimal.
EVERY_TYPE_RESOURCES = (
    "person full_name:str(100):unique nickname:str(1):null age:int:index "
    "height_m:float:null balance:decimal(12,0) is_vip:bool; "
    "blog_category title:str(50):unique notes:text born_on:date:null "
    "launched_at:datetime:index external_id:uuid:null; "
    "status_entry(status_log) code:uuid:unique at:datetime weight:decimal(5,5):null"
)


# A graph of resources, written children first: references required and optional, to itself,
# in a cycle (an article's writer, a writer's pinned article), with each ON DELETE, and
# many-to-manys, one to itself; an enum; bounds on every numeric type, lengths and formats.
GRAPH_RESOURCES = (
    "article title:str(200):index:min=1 status:enum(draft,published,archived):index "
    "words:int:min=1:max=100000 fee:decimal(8,2):min=0:null rating:float:min=0:max=5:null "
    "summary:text:min=10:max=2000:null writer:ref(writer) editor:ref(writer):null:set_null "
    "shelf:ref(shelf):null:cascade topics:refs(topic); "
    "writer name:str(120):min=2 email:str(254):email:unique site:str(300):url:null "
    "mentor:ref(writer):null pinned:ref(article):null:set_null; "
    "shelf label:str(40):unique capacity:int:min=1:max=500:null; "
    "topic name:str(40):unique subtopics:refs(topic)"
)


def sample(name: str) -> Sample:
    return next(sample for sample in SAMPLES if sample.name == name)


SAMPLES = [
    Sample("defaults", fuzzed=False),
    Sample(
        "every-type",
        {
            "project_name": "Field Test",
            "project_slug": "field_test",
            "resources": EVERY_TYPE_RESOURCES,
        },
    ),
    Sample("graph", {"project_name": "Newsroom", "resources": GRAPH_RESOURCES}),
    Sample("registration", {"project_name": "Open Shop", "open_registration": "true"}),
    Sample("no-admin", {"project_name": "Bare", "admin": "false"}, fuzzed=False),
    # Resources without a string or a sized field, with one-letter field names.
    Sample(
        "python-3.11",
        {
            "project_name": "Oldest",
            "python_version": "3.11",
            "resources": "zebra a:int; tally b:bool:null c:float:index",
        },
    ),
    Sample("python-3.13", {"project_name": "Newest", "python_version": "3.13"}, fuzzed=False),
]
