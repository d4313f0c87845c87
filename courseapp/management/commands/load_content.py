"""Load lessons, Quick Test questions and exercises from the content files.

- Idempotent: running it twice changes nothing the second time.
- All or nothing: every file is validated inside one transaction; bad
  content stops the load with the file, the line and the reason.
- Reports what it added, changed and removed; --json prints the counts.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from courseapp.lib.content import ContentError, LoadReport
from exercises import content_loader as exercises_loader
from lessons import lessons_loader
from quicktest import loader as questions_loader


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "Load lessons, Quick Test questions and exercises from their content files."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report, write nothing"
        )
        parser.add_argument("--lessons-dir", type=Path, default=lessons_loader.CONTENT_DIR)
        parser.add_argument("--questions-dir", type=Path, default=questions_loader.CONTENT_DIR)
        parser.add_argument("--exercises-dir", type=Path, default=exercises_loader.CONTENT_DIR)

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
        # Lessons link to exercises and questions link to lessons: exercises are listed
        # first so lesson links can be checked, and lessons are loaded before questions.
        exercises_dir = options["exercises_dir"]
        exercise_slugs = exercises_loader.slugs_in(exercises_dir)
        progress(f"lessons from {options['lessons_dir']} ...")
        lessons = lessons_loader.load_lessons(options["lessons_dir"], exercise_slugs, report)
        progress(f"questions from {options['questions_dir']} ...")
        questions_loader.load_questions(options["questions_dir"], lessons, report)
        progress(f"exercises from {exercises_dir} ...")
        exercises_loader.load_exercises(exercises_dir, report)

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
