"""Give a user the instructor role (the "Instructors" group), or take it away.

- Creates the group and its permissions if they do not exist yet.
- Finds the user by e-mail, case-insensitively.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from teach import authoring


class Command(BaseCommand):
    help = (
        "Make the user with this e-mail an instructor (access to /teach/); --remove takes it away."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--remove", action="store_true", help="remove the user from the Instructors group"
        )

    def handle(self, *args, **options):
        users = get_user_model().objects.filter(email__iexact=options["email"])
        if users.count() != 1:
            raise CommandError(
                f"{users.count()} users have the e-mail {options['email']!r}; expected exactly one"
            )
        user = users.get()
        if options["remove"]:
            authoring.remove_instructor(user)
            self.stdout.write(f"{user.email} is no longer an instructor.")
        else:
            authoring.make_instructor(user)
            self.stdout.write(f"{user.email} is now an instructor: /teach/")
