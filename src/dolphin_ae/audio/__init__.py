"""Audio in: loading and validating recordings, the spectrogram front end, example players."""
