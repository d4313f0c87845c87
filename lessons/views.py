from django.shortcuts import get_object_or_404, render

from lessons.models import Lesson
from lessons.modules import MODULES


def index(request):
    lessons = list(Lesson.objects.all())
    modules = [(number, title, [lesson for lesson in lessons if lesson.module == number])
               for number, title in MODULES.items()]
    return render(request, "lessons/index.html", {"modules": modules})


def detail(request, slug):
    lesson = get_object_or_404(Lesson, slug=slug)
    return render(request, "lessons/detail.html", {"lesson": lesson})


def dashboard(request):
    return render(request, "lessons/dashboard.html")
