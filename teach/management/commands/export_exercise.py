"""Write an exercise version back to content files.

- The layout load_content reads: exercise.yaml, statement.md, starter.py,
  solution.py and variants/<name>.py, in DIR/<slug>/ (DIR defaults to
  exercises/content; `--to DIR` is the same as the positional DIR).
- The published version unless --number N picks another (a draft, say).
- Refuses to overwrite an existing directory unless --force.
- Loading the exported files again yields the same content hash; it checks.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exercises.content_loader import CONTENT_DIR, read_exercise
from exercises.models import Exercise
from teach import authoring


class Command(BaseCommand):
    help = "Export an exercise version to content files (DIR/<slug>/, by default exercises/content/<slug>/)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("dir", nargs="?", type=Path, help="the content directory to write into")
        parser.add_argument(
            "--to", type=Path, help="the content directory to write into (same as DIR)"
        )
        parser.add_argument(
            "--number", type=int, help="export this version number instead of the published one"
        )
        parser.add_argument(
            "--force", action="store_true", help="overwrite an existing exercise directory"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be written, write nothing"
        )

    def handle(self, *args, **options):
        exercise = (
            Exercise.objects.select_related("published_version")
            .filter(slug=options["slug"])
            .first()
        )
        if options["number"] is not None:
            version = (
                exercise.versions.filter(number=options["number"]).first() if exercise else None
            )
            if version is None:
                raise CommandError(
                    f"exercise {options['slug']!r} has no version {options['number']}"
                )
        else:
            version = exercise.published_version if exercise else None
            if version is None:
                raise CommandError(
                    f"no published exercise {options['slug']!r} (pass --number N for a draft)"
                )
        target = (options["dir"] or options["to"] or CONTENT_DIR) / exercise.slug
        if target.exists() and not options["force"]:
            raise CommandError(f"{target} exists; pass --force to overwrite it")
        files = authoring.export_files(exercise, version)
        for name in files:
            self.stdout.write(
                f"{'would write' if options['dry_run'] else 'writing'} {target / name}"
            )
        if options["dry_run"]:
            return
        # A variant dropped since the last export must not linger: the loader would refuse the directory.
        for stale in sorted((target / "variants").glob("*.py")):
            if f"variants/{stale.name}" not in files:
                stale.unlink()
        authoring.write_files(files, target)
        if read_exercise(target).content_hash() != version.content_hash:
            raise CommandError(
                f"the exported files in {target} do not load back to the same version"
            )
        self.stdout.write(f"exported {exercise.slug} v{version.number} to {target}")
