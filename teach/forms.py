"""Forms of the instructor area: an exercise (with its known-buggy variants) and a Quick Test question."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from courseapp.lib.content import ContentError
from courseapp.lib.modules import MODULES
from exercises.content_loader import DEFAULT_RANDOM_SCHEDULES, DEFAULT_REVEAL_AFTER, ExerciseSpec
from exercises.models import Exercise
from sandbox import scenarios
from sandbox.invariants import INVARIANTS
from sandbox.runner import MAX_LIMITS, Limits
from teach.authoring import check_question, question_raw

RESERVED_SLUGS = {"new"}
VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


class TextField(forms.CharField):
    """Text kept as typed, except that browsers' CRLF line ends become LF (as files read back)."""

    def __init__(self, *, rows=8, code=False, **kwargs):
        attrs = {"rows": rows}
        if code:
            attrs.update(
                {
                    "class": "editor code",
                    "spellcheck": "false",
                    "autocapitalize": "off",
                    "autocomplete": "off",
                }
            )
        kwargs.setdefault("widget", forms.Textarea(attrs=attrs))
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class PythonField(TextField):
    def __init__(self, **kwargs):
        super().__init__(rows=kwargs.pop("rows", 14), code=True, **kwargs)

    def validate(self, value):
        super().validate(value)
        if value and not value.strip():
            raise ValidationError("This code is empty.")
        try:
            compile(value, "<code>", "exec")
        except SyntaxError as exc:
            raise ValidationError(f"Python syntax error on line {exc.lineno}: {exc.msg}") from None
        except ValueError as exc:
            raise ValidationError(f"This code cannot be compiled: {exc}") from None


def scenario_choices():
    return [(name, f"{scenario.title} ({name})") for name, scenario in scenarios.all().items()]


def invariant_choices():
    return [("", "Choose what it must break…"), ("pass", "Nothing: it must pass")] + [
        (name, f"{inv.title} ({name})") for name, inv in INVARIANTS.items()
    ]


def limit_fields():
    """One optional field per sandbox limit, capped by the site's MAX_LIMITS."""
    fields = {}
    for name in Limits.__dataclass_fields__:
        default, cap = getattr(Limits(), name), getattr(MAX_LIMITS, name)
        kind = forms.FloatField if isinstance(default, float) else forms.IntegerField
        fields[f"limit_{name}"] = kind(
            required=False,
            min_value=0.1 if kind is forms.FloatField else 1,
            max_value=cap,
            label=name.replace("_", " ").capitalize(),
            help_text=f"Default {default}; at most {cap} (the site's cap). Leave empty for the default.",
        )
    return fields


class ExerciseForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80,
        help_text="Part of the learner's URL: /exercises/<slug>/. "
        "It cannot change once the exercise exists.",
    )
    module = forms.TypedChoiceField(choices=sorted(MODULES.items()), coerce=int)
    order = forms.IntegerField(
        min_value=0, max_value=32767, initial=0, help_text="Position within the module."
    )
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One or two sentences for the catalogue.",
    )
    statement = TextField(
        rows=16, help_text="Markdown. The preview below shows it as learners will see it."
    )
    scenario = forms.ChoiceField(choices=scenario_choices)
    starter = PythonField(
        label="Starter code", help_text="What learners start from. It must fail validation."
    )
    solution = PythonField(label="Reference solution", help_text="It must pass validation.")
    hints = TextField(
        rows=6,
        help_text="One hint per paragraph: separate hints with a blank line. Learners "
        "reveal them one at a time.",
    )
    reveal_after = forms.IntegerField(
        min_value=1,
        max_value=100,
        initial=DEFAULT_REVEAL_AFTER,
        help_text="Failed attempts before the reference solution is offered.",
    )
    random_schedules = forms.IntegerField(
        min_value=0,
        max_value=5000,
        initial=DEFAULT_RANDOM_SCHEDULES,
        help_text="Random fault schedules explored per grading, after every "
        "single fault (capped by the server's setting).",
    )

    def __init__(self, *args, exercise: Exercise | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.exercise = exercise
        self.fields.update(limit_fields())
        # Live preview: htmx posts just the statement; the Preview button is the no-JS way.
        self.fields["statement"].widget.attrs.update(
            {
                "hx-post": reverse("teach:preview"),
                "hx-trigger": "input changed delay:400ms, change",
                "hx-target": "#statement-preview",
                "hx-swap": "innerHTML",
                "hx-params": "statement",
                "hx-sync": "this:replace",
            }
        )
        if exercise is not None:
            self.fields["slug"].disabled = True
            self.fields["slug"].initial = exercise.slug

    def limit_bound_fields(self):
        return [self[name] for name in self.fields if name.startswith("limit_")]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if self.exercise is None:
            if slug in RESERVED_SLUGS:
                raise ValidationError(f"“{slug}” is reserved; choose another slug.")
            if Exercise.objects.filter(slug=slug).exists():
                raise ValidationError("An exercise with this slug already exists.")
        return slug

    def clean_title(self):
        return self.cleaned_data["title"].strip()

    def clean_hints(self):
        hints = [
            hint.strip()
            for hint in re.split(r"\n[ \t]*\n", self.cleaned_data["hints"])
            if hint.strip()
        ]
        if not hints:
            raise ValidationError("Give at least one hint.")
        return hints

    def limits(self) -> dict:
        return {
            name[len("limit_") :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith("limit_") and value is not None
        }

    def spec(self, variants: dict) -> ExerciseSpec:
        data = self.cleaned_data
        return ExerciseSpec(
            slug=self.exercise.slug if self.exercise else data["slug"],
            title=data["title"],
            module=data["module"],
            order=data["order"],
            summary=data["summary"].strip(),
            scenario=data["scenario"],
            statement=data["statement"],
            starter=data["starter"],
            solution=data["solution"],
            hints=data["hints"],
            reveal_after=data["reveal_after"],
            random_schedules=data["random_schedules"],
            limits=self.limits(),
            variants=variants,
        )

    @classmethod
    def initial_from(cls, spec: ExerciseSpec) -> dict:
        initial = {
            "title": spec.title,
            "slug": spec.slug,
            "module": spec.module,
            "order": spec.order,
            "summary": spec.summary,
            "statement": spec.statement,
            "scenario": spec.scenario,
            "starter": spec.starter,
            "solution": spec.solution,
            "hints": "\n\n".join(spec.hints),
            "reveal_after": spec.reveal_after,
            "random_schedules": spec.random_schedules,
        }
        initial.update({f"limit_{name}": value for name, value in spec.limits.items()})
        return initial


class VariantForm(forms.Form):
    name = forms.CharField(
        max_length=60,
        help_text="Lower case, digits and underscores: it becomes variants/<name>.py.",
    )
    expected = forms.ChoiceField(choices=invariant_choices, label="Invariant it must break")
    source = PythonField(label="Source", rows=10)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not VARIANT_NAME.match(name):
            raise ValidationError(
                "Use a lower-case name of letters, digits and underscores, starting with a letter."
            )
        if name in ("reference", "starter"):
            raise ValidationError("“reference” and “starter” are not variant names.")
        return name


class BaseVariantFormSet(forms.BaseFormSet):
    def variants(self) -> dict:
        return {
            form.cleaned_data["name"]: {
                "source": form.cleaned_data["source"],
                "expected": form.cleaned_data["expected"],
            }
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        }

    def clean(self):
        if any(self.errors):
            return
        names = [
            form.cleaned_data["name"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValidationError(
                f"Two variants are called {', '.join(repeated)}; names must differ."
            )


VariantFormSet = forms.formset_factory(
    VariantForm, formset=BaseVariantFormSet, extra=1, can_delete=True, max_num=30, validate_max=True
)


def variant_initial(spec: ExerciseSpec) -> list[dict]:
    return [
        {"name": name, "expected": v["expected"], "source": v["source"]}
        for name, v in sorted(spec.variants.items())
    ]


def exercise_forms(data, exercise: Exercise | None, spec: ExerciseSpec | None):
    """The exercise form and its variants formset, bound to `data` or filled from `spec`."""
    if data is not None:
        return ExerciseForm(data, exercise=exercise), VariantFormSet(data, prefix="variants")
    initial = ExerciseForm.initial_from(spec) if spec else None
    return (
        ExerciseForm(initial=initial, exercise=exercise),
        VariantFormSet(initial=variant_initial(spec) if spec else None, prefix="variants"),
    )


def fill_from_scenario(data):
    """Form data with empty starter/reference filled, and the scenario's known-buggy variants appended."""
    try:
        scenario = scenarios.get(data.get("scenario") or "")
    except KeyError:
        return data
    data = data.copy()
    if not (data.get("starter") or "").strip():
        data["starter"] = scenario.starter_source
    if not (data.get("solution") or "").strip():
        data["solution"] = scenario.reference_source
    total = (
        int(data.get("variants-TOTAL_FORMS") or 0)
        if (data.get("variants-TOTAL_FORMS") or "0").isdigit()
        else 0
    )
    named = {data.get(f"variants-{n}-name") for n in range(total)}
    for name, (source, expected) in sorted(scenario.variants.items()):
        if name in ("reference", "starter") or name in named:
            continue
        data.update(
            {
                f"variants-{total}-name": name,
                f"variants-{total}-expected": expected,
                f"variants-{total}-source": source,
            }
        )
        total += 1
    data.update(
        {
            "variants-TOTAL_FORMS": str(total),
            "variants-INITIAL_FORMS": data.get("variants-INITIAL_FORMS") or "0",
            "variants-MIN_NUM_FORMS": "0",
            "variants-MAX_NUM_FORMS": "30",
        }
    )
    return data


def forms_valid(form: ExerciseForm, formset) -> bool:
    """Both valid, and every variant names an invariant its scenario checks."""
    if not (form.is_valid() and formset.is_valid()):
        return False
    checked = set(scenarios.get(form.cleaned_data["scenario"]).invariants)
    ok = True
    for variant in formset.forms:
        data = variant.cleaned_data
        if (
            data
            and not data.get("DELETE")
            and data["expected"] != "pass"
            and data["expected"] not in checked
        ):
            variant.add_error(
                "expected",
                f"The {form.cleaned_data['scenario']} scenario does not check this "
                f"invariant; it checks {', '.join(sorted(checked))}.",
            )
            ok = False
    return ok


class QuestionForm(forms.Form):
    """The editable parts of a question; numbers shown to instructors count from 1."""

    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    code = TextField(rows=8, code=True, required=False, help_text="Spot-the-bug questions only.")
    choices = TextField(rows=6, required=False, help_text="One choice per line.")
    items = TextField(
        rows=6,
        required=False,
        label="Items in the correct order",
        help_text="Ordering questions only: one item per line, in the right order.",
    )
    answer = forms.CharField(
        required=False,
        help_text="The number of the right choice (counting from 1); for "
        "multiple select, the numbers separated by commas; for "
        "true-or-false, true or false.",
    )
    explanation = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, question, **kwargs):
        super().__init__(*args, **kwargs)
        self.question = question
        kind = question.type
        if kind not in ("single", "multiple", "spotbug"):
            del self.fields["choices"]
        if kind != "spotbug":
            del self.fields["code"]
        if kind != "ordering":
            del self.fields["items"]
        if kind == "ordering":
            del self.fields["answer"]

    @classmethod
    def initial_from(cls, question) -> dict:
        answer = question.answer
        if question.type == "truefalse":
            shown = "true" if answer else "false"
        elif isinstance(answer, list):
            shown = ", ".join(str(index + 1) for index in answer)
        else:
            shown = "" if answer is None else str(answer + 1)
        return {
            "prompt": question.prompt,
            "code": question.code,
            "choices": "\n".join(question.choices),
            "items": "\n".join(question.items),
            "answer": shown,
            "explanation": question.explanation,
        }

    def raw(self) -> dict:
        """The question in the YAML form the loader validates (indices from 0)."""
        data = self.cleaned_data
        raw = question_raw(self.question)
        raw.update({"prompt": data["prompt"].strip(), "explanation": data["explanation"].strip()})
        for key in ("code", "choices", "items", "answer"):
            raw.pop(key, None)
        if "code" in self.fields:
            raw["code"] = data["code"]
        if "choices" in self.fields:
            raw["choices"] = [line.strip() for line in data["choices"].splitlines() if line.strip()]
        if "items" in self.fields:
            raw["items"] = [line.strip() for line in data["items"].splitlines() if line.strip()]
        if "answer" in self.fields:
            raw["answer"] = self._answer(data.get("answer") or "")
        return raw

    def _answer(self, text: str):
        text = text.strip()
        if self.question.type == "truefalse":
            return {"true": True, "false": False}.get(text.lower(), text)
        numbers = [part.strip() for part in text.split(",") if part.strip()]
        if not all(part.isdigit() for part in numbers) or not numbers:
            return text  # the loader's check names the problem
        indices = [int(part) - 1 for part in numbers]
        return (
            indices
            if self.question.type == "multiple"
            else indices[0]
            if len(indices) == 1
            else indices
        )

    def check(self) -> dict | None:
        """Validate like the loader; the model fields, or None with the reason as a form error."""
        if not self.is_valid():
            return None
        raw = self.raw()
        problem = self._answer_problem(raw)
        if problem:
            self.add_error("answer", problem)
            return None
        try:
            return check_question(raw)
        except ContentError as error:
            self.add_error(None, error.reason)
            return None

    def _answer_problem(self, raw: dict) -> str:
        kind, answer = self.question.type, raw.get("answer")
        if kind == "truefalse":
            return "" if isinstance(answer, bool) else "Write true or false."
        if kind == "ordering":
            return ""
        count = len(raw.get("choices") or [])
        given = answer if isinstance(answer, list) else [answer]
        numbers = [n for n in given if isinstance(n, int) and not isinstance(n, bool)]
        if len(numbers) != len(given):
            return "Give choice numbers, like 2, or 1, 3 for multiple select."
        if kind != "multiple" and len(numbers) != 1:
            return "Give exactly one choice number."
        if not all(0 <= n < count for n in numbers):
            return f"Use choice numbers from 1 to {count}."
        return ""
