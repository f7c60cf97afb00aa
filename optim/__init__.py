"""numbagrad's optimizers and learning-rate schedules (their issue fills this package in)."""
