"""Keep an anonymous learner's Quick Test attempts when they sign up or log in.

allauth sends user_logged_in after a log-in and after a signup that logs the
user in. Django cycles the session key at log-in but keeps its data, so the
attempt ids stored in the session (not the session key) identify the work.
"""

from allauth.account.signals import user_logged_in
from django.dispatch import receiver

from quicktest.attempts import attach_session_attempts


@receiver(user_logged_in, dispatch_uid="quicktest.signals.attach_quiz_attempts")
def attach_quiz_attempts(sender, request, user, **kwargs):
    attach_session_attempts(request.session, user)
