"""Data sets: annotations, recordings, window data sets and their cache, synthetic soundscapes."""
