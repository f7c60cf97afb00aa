"""numbagrad benchmarks: ``python -m benchmarks`` (or ``make bench``) runs them all and prints tables.

Importing this package changes nothing in the environment: numbagrad is timed with the settings a user
gets after ``pip install``, and every reference (PyTorch, micrograd, another checkout) runs in a process
of its own with the user's environment unchanged (benchmarks/reference.py).
"""
import os

# The environment as the user started the benchmarks, before any library could add to it (threadpoolctl,
# for one, sets KMP_DUPLICATE_LIB_OK on import): what every worker process gets.
USER_ENVIRONMENT = dict(os.environ)
