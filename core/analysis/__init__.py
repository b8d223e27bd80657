"""analysis: metrics, evaluation, gradient checks and the traced training step with its formulas."""
