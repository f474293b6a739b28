"""Training: the validation split, the autoencoder loop and its state, the heads on frozen codes (silence,
signal type), model comparison."""
