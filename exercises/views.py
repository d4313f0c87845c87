from django.shortcuts import get_object_or_404, render

from exercises.models import Exercise


def index(request):
    return render(request, "exercises/index.html", {"exercises": Exercise.objects.published()})


def detail(request, slug):
    exercise = get_object_or_404(Exercise.objects.published(), slug=slug)
    return render(request, "exercises/detail.html", {"exercise": exercise})
