"""Re-enqueue submissions whose grading was lost.

- queued, and the grading request was never sent (older than a grace period);
- queued, and sent so long ago that the message must be lost;
- running past the deadline (the worker died: the hard time limit is over).
The grading task is idempotent, so sending one twice is harmless.
"""

from django.core.management.base import BaseCommand

from exercises import sweeper


class Command(BaseCommand):
    help = "Re-enqueue submissions stuck in the queue or running past their deadline."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be re-enqueued, send nothing"
        )

    def handle(self, *args, **options):
        stuck = sweeper.sweep(dry_run=options["dry_run"])
        for submission in stuck:
            self.stdout.write(
                f"{'would re-enqueue' if options['dry_run'] else 're-enqueued'} {submission.pk} "
                f"({submission.status})"
            )
        if options["verbosity"]:
            self.stdout.write(
                f"{len(stuck)} submission(s) {'stuck' if options['dry_run'] else 're-enqueued'}"
            )
