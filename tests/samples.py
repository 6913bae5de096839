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


# Three resources that together use every field type and flag, with awkward names: an irregular
# plural, an explicit plural, a two-word name, a one-character string and a scale-0 decimal.
EVERY_TYPE_RESOURCES = (
    "person full_name:str(100):unique nickname:str(1):null age:int:index "
    "height_m:float:null balance:decimal(12,0) is_vip:bool; "
    "blog_category title:str(50):unique notes:text born_on:date:null "
    "launched_at:datetime:index external_id:uuid:null; "
    "status_entry(status_log) code:uuid:unique at:datetime weight:decimal(5,5):null"
)


def sample(name: str) -> Sample:
    return next(sample for sample in SAMPLES if sample.name == name)


SAMPLES = [
    Sample("defaults"),
    Sample(
        "every-type",
        {
            "project_name": "Field Test",
            "project_slug": "field_test",
            "resources": EVERY_TYPE_RESOURCES,
        },
    ),
    Sample("registration", {"project_name": "Open Shop", "open_registration": "true"}),
    Sample("no-admin", {"project_name": "Bare", "admin": "false"}),
    # Resources without a string or a sized field, with one-letter field names.
    Sample(
        "python-3.11",
        {
            "project_name": "Oldest",
            "python_version": "3.11",
            "resources": "zebra a:int; tally b:bool:null c:float:index",
        },
    ),
    Sample("python-3.13", {"project_name": "Newest", "python_version": "3.13"}),
]
