"""The instructor area: author, validate, publish and export exercises; edit questions.

Its models live in ``exercises`` (an exercise version is what learners are graded on).
"""
