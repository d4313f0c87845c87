"""Grade a file against an exercise exactly as the site does.

- Same jail, limits and exploration (exercises.grading.grade_code).
- The exercise comes from the database (its published version), or from the
  content files when it is not loaded.
- Exit status: 0 passed, 1 failed (or timed out), 2 error or usage.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from exercises import grading
from exercises.content_loader import CONTENT_DIR, read_all
from exercises.models import Exercise, ExerciseVersion

EXIT = {"passed": 0, "failed": 1, "timeout": 1}


class Command(BaseCommand):
    help = "Grade a Python file against an exercise, exactly as the site grades submissions."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("path", nargs="?", type=Path)
        parser.add_argument("--json", action="store_true", help="print the full verdict as JSON")
        parser.add_argument(
            "--reference", action="store_true", help="grade the exercise's reference solution"
        )
        parser.add_argument(
            "--starter", action="store_true", help="grade the exercise's starter code"
        )
        parser.add_argument(
            "--list", action="store_true", help="list the exercises and their scenarios"
        )

    def handle(self, *args, **options):
        if options["list"]:
            for slug, title, scenario in self._catalogue():
                self.stdout.write(f"{slug:34} {scenario:26} {title}")
            return
        if not options["slug"]:
            raise CommandError(
                "name an exercise: grade SLUG PATH (or --reference / --starter; --list lists them)",
                returncode=2,
            )
        version = self._version(options["slug"])
        source = self._source(options, version)
        result = grading.grade_code(version, source)
        if options["json"]:
            keep = (
                "status",
                "message",
                "violations",
                "invariants",
                "seed",
                "schedules_explored",
                "fault_kinds_explored",
                "counterexample",
                "duration_ms",
                "output",
                "output_dropped",
                "jailed",
                "jail_reason",
            )
            self.stdout.write(json.dumps({k: result.get(k) for k in keep}, indent=2))
        else:
            self._summary(result)
        code = EXIT.get(result["status"], 2)
        if code:
            sys.exit(code)

    def _catalogue(self):
        try:
            loaded = [
                (e.slug, e.title, e.published_version.scenario)
                for e in Exercise.objects.published().select_related("published_version")
            ]
        except DatabaseError:
            loaded = []
        return loaded or [(s.slug, s.title, s.scenario) for s in read_all(CONTENT_DIR)]

    def _version(self, slug):
        try:
            exercise = (
                Exercise.objects.published()
                .select_related("published_version")
                .filter(slug=slug)
                .first()
            )
        except DatabaseError:  # no database set up yet (a fresh clone): the content files decide
            exercise = None
        if exercise:
            return exercise.published_version
        for spec in read_all(CONTENT_DIR):
            if spec.slug == slug:
                return ExerciseVersion(
                    scenario=spec.scenario,
                    starter=spec.starter,
                    solution=spec.solution,
                    limits=spec.limits,
                    random_schedules=spec.random_schedules,
                )
        raise CommandError(f"unknown exercise {slug!r}; try --list", returncode=2)

    def _source(self, options, version):
        if options["reference"]:
            return version.solution
        if options["starter"]:
            return version.starter
        path = options["path"]
        if path is None:
            raise CommandError(
                "give the PATH of a Python file, or --reference / --starter", returncode=2
            )
        try:
            return grading.check_code(grading.decode_upload(path.read_bytes()))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=2) from None
        except grading.SubmissionRefused as refused:
            raise CommandError(refused.message, returncode=2) from None

    def _summary(self, result):
        write = self.stdout.write
        write(f"{result['status'].upper()}: {result['message']}")
        if result.get("jailed") is False:
            write(f"WARNING: graded without the jail ({result.get('jail_reason')})")
        for inv in result.get("invariants") or []:
            mark = "not checked" if inv["held"] is None else ("held" if inv["held"] else "BROKEN")
            write(f"  [{mark}] {inv['name']}: {inv['title']}")
        write(
            f"  {result['schedules_explored']} schedules, faults {result.get('fault_kinds_explored') or {}}, "
            f"{result['duration_ms']} ms"
        )
        example = result.get("counterexample")
        if example:
            write(
                f"  counterexample: seed {example['seed']}, schedule {json.dumps(example['schedule'])}"
            )
            for step in example["trace"][:60]:
                arrow = f" -> {step['to']}" if step.get("to") else ""
                write(
                    f"    t={step['t']:>6} {step['service']}{arrow} {step['kind']}: {step['detail']}"
                )
        if result.get("output"):
            write("  output:\n" + result["output"])
