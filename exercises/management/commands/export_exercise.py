"""Write an exercise's published version back to content files.

- The layout load_content reads: exercise.yaml, statement.md, starter.py,
  solution.py and variants/<name>.py.
- Refuses to overwrite an existing directory unless --force.
- Loading the exported files again yields the same content hash.
"""
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from exercises.content_loader import CONTENT_DIR, read_exercise
from exercises.models import Exercise


class Command(BaseCommand):
    help = "Export an exercise's published version to content files (exercises/content/<slug>/)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--to", type=Path, default=CONTENT_DIR, help="the content directory to write into")
        parser.add_argument("--force", action="store_true", help="overwrite an existing exercise directory")
        parser.add_argument("--dry-run", action="store_true", help="say what would be written, write nothing")

    def handle(self, *args, **options):
        exercise = Exercise.objects.published().select_related("published_version").filter(slug=options["slug"]).first()
        if exercise is None:
            raise CommandError(f"no published exercise {options['slug']!r}")
        version = exercise.published_version
        target = options["to"] / exercise.slug
        if target.exists() and not options["force"]:
            raise CommandError(f"{target} exists; pass --force to overwrite it")
        meta = {"title": exercise.title, "module": exercise.module, "order": exercise.order,
                "scenario": version.scenario, "summary": exercise.summary, "reveal_after": version.reveal_after,
                "random_schedules": version.random_schedules, "hints": list(version.hints)}
        if version.limits:
            meta["limits"] = dict(version.limits)
        if version.variants:
            meta["variants"] = {name: v["expected"] for name, v in sorted(version.variants.items())}
        files = {"exercise.yaml": yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=110),
                 "statement.md": version.statement, "starter.py": version.starter, "solution.py": version.solution}
        files.update({f"variants/{name}.py": v["source"] for name, v in version.variants.items()})
        for name, text in files.items():
            self.stdout.write(f"{'would write' if options['dry_run'] else 'writing'} {target / name}")
            if not options["dry_run"]:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_text(text, encoding="utf-8")
        if not options["dry_run"]:
            exported = read_exercise(target)
            if exported.content_hash() != version.content_hash:
                raise CommandError(f"the exported files in {target} do not load back to the same version")
