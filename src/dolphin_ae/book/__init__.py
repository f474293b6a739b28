"""The report runner: parameters, stages, the run directory, the summary chapter's tables."""
