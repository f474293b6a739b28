"""Names and numbers the package shares, each defined once: the label vocabulary, the data folder's
file names, the seed's front-end and model sizes, and the seed's published results.

Core layer: imports nothing of the package, so that every module (and the book, without Keras) may
import it.
"""

# ------------------------------------------------------------------------------------------ labels

# Background alone: the seed's "silence" class. A window no event claims takes this label, and so
# does an annotated event that marks background (``noise`` in an annotation table).
SILENCE_LABEL = "noise"
# The signal classes, in the order the synthesiser draws them (clip folders, events per recording).
SIGNAL_LABELS = ("whistle", "burst", "click")
LABELS = SIGNAL_LABELS + (SILENCE_LABEL,)
# Rows (truth) and columns (prediction) of a silence detector's confusion matrix, as in the seed.
SILENCE_CLASS_NAMES = ("not silence", "silence")

# ------------------------------------------------------------------------------------- data folder

# Events of long recordings, ``file,start_s,end_s,label[,type]`` (DESIGN.md), at the data folder's top.
ANNOTATIONS_FILE = "annotations.csv"
# Ground truth of a synthetic data set, one row per event (``dolphin_ae.data.synth.TRUTH_COLUMNS``).
TRUTH_FILE = "truth.csv"
# "session__clip.wav": the part of a file name before the double underscore names its recording session.
RECORDING_SEPARATOR = "__"

# ------------------------------------------------------------------------- the seed's front end, model

SEED_SR = 48000  # sample rate (Hz)
SEED_FMIN_HZ = 4400.0  # lowest frequency of the analysis band (Hz)
SEED_N_BINS = 256  # frequency bins across the band
SEED_WINDOW_FRAMES = 128  # spectrogram frames per window
SEED_WINDOW_SHAPE = (SEED_WINDOW_FRAMES, SEED_N_BINS, 1)  # a model's input: frames x bins x 1 channel
SEED_LATENT_DIM = 128  # numbers in an encoder's code

# ---------------------------------------------------------------------------- the seed's results

# The 2019 study's one published matrix (ConvNet v5.1, on its own training windows): rows truth
# [not silence, silence], columns prediction.
SEED_CONFUSION_MATRIX = ((50, 89), (1, 740))
# The seed author's later four-class signal-type head (IJCNN 2020 code, tag v4.0): its accuracy and
# its weakest class's recall (burst pulses).
SEED_SIGNAL_TYPE_ACCURACY = 0.827
SEED_BURST_RECALL = 0.66
