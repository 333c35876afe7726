"""A seeded, realistic statement corpus: statement `i` is the same on every run.

About 1.5 KB a statement: an actor from a few thousand learners, a verb from a small set,
an Activity from a few thousand with its definition, a registration, context activities
(parent course, grouping, category), sometimes an instructor, a scored result and
extensions, spread over tenants."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = [
    "experienced", "attempted", "completed", "passed", "failed", "answered", "launched",
    "initialized", "terminated", "progressed", "scored", "interacted", "commented",
    "attended", "registered",
]  # fmt: skip


@dataclass(frozen=True)
class Shape:
    tenants: int = 3
    agents: int = 6000
    activities: int = 3000
    courses: int = 60
    registrations: int = 30000
    instructors: int = 40
    seed: int = 20261123


class Corpus:
    def __init__(self, shape: Shape = Shape()) -> None:
        self.shape = shape

    def agent(self, number: int) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "name": f"Learner {number}",
            "mbox": f"mailto:learner{number}@corp{number % 7}.example.com",
        }

    def activity_id(self, number: int) -> str:
        return f"https://courses.example.com/c{number % self.shape.courses}/activities/a{number}"

    def course_id(self, number: int) -> str:
        return f"https://courses.example.com/c{number}"

    def registration(self, number: int) -> str:
        return str(uuid.UUID(int=self.shape.seed * 1_000_003 + number))

    def verb_id(self, name: str) -> str:
        return ADL + name

    def tenant_of(self, index: int) -> int:
        return index % self.shape.tenants

    def statement(self, index: int) -> dict[str, Any]:
        rng = random.Random(self.shape.seed * 7_919 + index)
        activity = rng.randrange(self.shape.activities)
        course = activity % self.shape.courses
        verb = rng.choice(VERBS)
        raw = rng.randint(0, 100)
        statement: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "actor": self.agent(rng.randrange(self.shape.agents)),
            "verb": {"id": self.verb_id(verb), "display": {"en-US": verb, "de-DE": verb}},
            "object": {
                "objectType": "Activity",
                "id": self.activity_id(activity),
                "definition": {
                    "name": {"en-US": f"Lesson {activity}", "de-DE": f"Lektion {activity}"},
                    "description": {
                        "en-US": f"Lesson {activity} of course {course}: practice and review."
                    },
                    "type": "http://adlnet.gov/expapi/activities/lesson",
                },
            },
            "result": {
                "score": {"scaled": raw / 100, "raw": raw, "min": 0, "max": 100},
                "success": raw >= 60,
                "completion": rng.random() < 0.8,
                "duration": f"PT{rng.randint(1, 3600)}S",
                "extensions": {"https://lrs.example.com/ext/attempt": rng.randint(1, 5)},
            },
            "context": {
                "registration": self.registration(rng.randrange(self.shape.registrations)),
                "platform": "Example Player 3.2",
                "language": "en-US",
                "contextActivities": {
                    "parent": [{"id": self.course_id(course)}],
                    "grouping": [{"id": f"https://courses.example.com/programs/p{course % 8}"}],
                    "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/moveon"}],
                },
                "extensions": {
                    "https://lrs.example.com/ext/session": str(
                        uuid.UUID(int=rng.getrandbits(128), version=4)
                    ),
                    "https://lrs.example.com/ext/device": rng.choice(
                        ["desktop", "tablet", "phone"]
                    ),
                    "https://lrs.example.com/ext/referrer": (
                        f"https://portal.example.com/learning/catalog/course/{course}"
                        f"/module/{activity}?utm_source=lms&utm_medium=launch&session={index}"
                    ),
                },
            },
            "timestamp": (
                datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index * 7)
            ).isoformat(),
        }
        if rng.random() < 0.2:
            statement["context"]["instructor"] = self.agent(
                self.shape.agents + rng.randrange(self.shape.instructors)
            )
        return statement
