"""numbagrad benchmarks: ``python -m benchmarks`` (or ``make bench``) runs them all and prints tables.

Importing this package changes nothing in the environment: numbagrad is timed with the settings a user
gets after ``pip install``, and every reference (PyTorch, micrograd, another checkout) runs in a process
of its own with the user's environment unchanged (benchmarks/reference.py).
"""
