"""Training: the validation split, the autoencoder loop and its state, its objectives (MSE, denoising,
contrastive) and their augmentations, reconstruction errors, the heads on frozen codes (silence, signal
type), model comparison."""
