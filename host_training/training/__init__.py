"""Training: float teachers, compressed students (QAT, pruning, distillation, search)."""
