# Transfer of an encoder to flare forecasting: a flare >= C1.0 within 24 h of
# an active-region observation. With encoder_path set to a SimCLR run's
# encoder.keras, the pretrained backbone is frozen for freeze_epochs while the
# head learns, then trained at the lower finetune_learning_rate. With
# encoder_weights = "random" the same architecture starts from scratch; with
# encoder_path = "" a new encoder is built from the architecture keys below.
#
# Label efficiency (1 %, 10 %, 100 % of the labels, pretrained vs scratch):
#     python tools/label_efficiency.py \
#         --encoder runs/ssl/simclr_pretrain/<time>/encoder.keras

trainer = "finetune"

# --- data ---
dataset = "synthetic_sun/active_region"  # 64x64x4 patches
data_dir = ""
task = "binary"
threshold = "C1.0"  # SolarNet's setting; enough positives at 1 % of the labels
channels = ("magnetogram", "continuum", "euv_171", "euv_94")
label_fraction = 1.0  # share of the training labels used (seeded random subset)
min_steps_per_epoch = 40  # a small subset is repeated up to this many steps per epoch

# --- transfer ---
encoder_path = ""  # a saved encoder (.keras); "" = build one from the keys below
encoder_weights = "pretrained"  # "pretrained" | "random" (same network, from scratch)
freeze_epochs = 2  # epochs with the pretrained backbone frozen (head only)
finetune_learning_rate = 3e-4  # rate once the backbone is unfrozen
linear_probe = False  # True: keep the backbone frozen for all epochs
# Re-estimate batch-norm statistics on unlabelled training patches before
# training (AdaBN): a pretrained backbone's come from other images.
recalibrate_batch_norm = False

# --- architecture (used when encoder_path is "") ---
image_size = 64
backbone = "cnn"
filters = (16, 32, 64)
blocks_per_stage = ()
dropout = 0.2  # on the features, before the head
normalize_features = True  # standardise features with training-set statistics first
zero_init_head = True  # the head starts at zero: no random, possibly inverted, ranking

# --- optimisation ---
batch_size = 32
epochs = 6
learning_rate = 1e-3  # head (and a from-scratch network)
seed = 0  # chooses the label subset and the initialisation

# --- evaluation ---
bootstrap_samples = 1000
output_dir = "runs"

smoke = dict(
    mixed_precision="float32",  # tests compare smoke runs tightly
    dataset="synthetic_sun/active_region_smoke",
    image_size=32,
    filters=(8, 16),
    epochs=2,
    freeze_epochs=1,
    bootstrap_samples=100,
)
