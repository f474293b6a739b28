#!/bin/sh
# Prints "gpu" when this machine can train on the JAX CUDA build (Linux, and `nvidia-smi -L` lists at
# least one GPU), else "cpu". The Makefile asks this once per call to choose what `make book` installs
# and which Keras backend it runs on; `make book ACCELERATOR=cpu` (or =gpu) skips the question.
if [ "$(uname -s)" != Linux ]; then
    echo cpu
    exit 0
fi
# nvidia-smi exits non-zero, or lists nothing, on a machine whose driver sees no GPU.
if listing=$(nvidia-smi -L 2>/dev/null) && printf '%s\n' "$listing" | grep -q '^GPU [0-9]'; then
    echo gpu
else
    echo cpu
fi
