"""Load lessons, Quick Test questions and exercises from the content files.

- Idempotent: running it twice changes nothing the second time.
- All or nothing: every file is validated inside one transaction; bad
  content stops the load with the file, the line and the reason.
- Reports what it added, changed and removed; --json prints the counts.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from lessons.content import CONTENT_ROOT, ContentError, LoadReport
from lessons.lessons_loader import load_lessons

EXERCISES_ROOT = Path(settings.BASE_DIR) / "exercises" / "content"


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "Load lessons, Quick Test questions and exercises from their content files."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report, write nothing"
        )
        parser.add_argument("--lessons-dir", type=Path, default=CONTENT_ROOT)
        parser.add_argument("--exercises-dir", type=Path, default=EXERCISES_ROOT)

    def handle(self, *args, **options):
        report = LoadReport()
        progress = (
            (lambda msg: None)
            if options["json"] or options["verbosity"] == 0
            else self.stderr.write
        )
        try:
            with transaction.atomic():
                self._load(options, report, progress)
                if options["dry_run"]:
                    raise _DryRun
        except _DryRun:
            progress("dry run: nothing written")
        except ContentError as exc:
            raise CommandError(f"content not loaded: {exc}") from None
        if options["json"]:
            self.stdout.write(json.dumps(report.counts, indent=2, sort_keys=True))
        elif options["verbosity"]:
            self._summary(report)

    def _load(self, options, report, progress):
        exercises_dir = options["exercises_dir"]
        exercise_slugs = {p.parent.name for p in exercises_dir.glob("*/exercise.yaml")}
        progress(f"lessons from {options['lessons_dir']} ...")
        lessons = load_lessons(options["lessons_dir"], exercise_slugs, report)
        try:
            from lessons.questions_loader import load_questions
        except ImportError:
            load_questions = None
        if load_questions:
            progress("questions ...")
            load_questions(options["lessons_dir"] / "questions", lessons, report)
        try:
            from exercises.content_loader import load_exercises
        except ImportError:
            load_exercises = None
        if load_exercises:
            progress(f"exercises from {exercises_dir} ...")
            load_exercises(exercises_dir, report)

    def _summary(self, report):
        for kind in ("lessons", "questions", "exercises"):
            parts = [
                f"{len(getattr(report, outcome).get(kind, []))} {outcome}"
                for outcome in ("added", "changed", "removed")
            ]
            count = report.counts.get(kind)
            total = count.get("total") if isinstance(count, dict) else count
            self.stdout.write(
                f"{kind}: {total if total is not None else 0} loaded ({', '.join(parts)})"
            )
            for outcome in ("added", "changed", "removed"):
                for key in getattr(report, outcome).get(kind, []):
                    self.stdout.write(f"  {outcome}: {key}")
