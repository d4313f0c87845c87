"""Helpers shared by the site areas: content errors and YAML, Markdown, modules and topics, SVG.

Nothing here imports an app: lessons, quicktest, exercises and teach import from here.
"""
