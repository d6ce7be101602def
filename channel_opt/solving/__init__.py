"""Solving: backends, the solve pipeline, plan checks, diagnosis and sensitivity."""

from .diagnose import Diagnosis, diagnose
from .engines import BACKENDS, Backend, SolveOptions, available_backends, get_backend
from .pipeline import solve
from .solution import Solution

__all__ = ["BACKENDS", "Backend", "Diagnosis", "Solution", "SolveOptions",
           "available_backends", "diagnose", "get_backend", "solve"]
