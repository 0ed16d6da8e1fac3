# SimCLR pretraining of an image encoder on unlabelled synthetic active-region
# patches of the TRAINING period only (SCIENCE.md trap 3: flarekit refuses any
# other pretrain_split). The encoder is saved as <run>/encoder.keras; load it
# with flarekit.models.load_encoder, or fine-tune it with ../finetune_binary.
#
# The defaults are the measured setting of docs/results/ssl_label_efficiency
# (24,736 patches, 15 epochs: about 15 minutes on 2 CPU cores). For full-disk
# images: --set dataset=synthetic_sun/full_disk --set threshold=M1.0
#
# Every key can be overridden: python network.py --set epochs=50

trainer = "simclr"

# --- data ---
# 64x64x4 patches of each region every 3.2 h: the regions and splits of
# active_region, 2.5x the patches (24,736 in the training period).
dataset = "synthetic_sun/active_region_dense"
data_dir = ""  # "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
pretrain_split = "train"  # only "train" or a slice of it ("train[:50%]")
task = "binary"  # labels are used by the linear probe only, never by the encoder
# Probe target: a flare >= C1.0 from the region within 24 h (the fine-tuning
# task of ../finetune_binary). On full-disk images use M1.0 (>= C1.0 is ~97 %
# of days).
threshold = "C1.0"
channels = ("magnetogram", "continuum", "euv_171", "euv_94")

# --- augmentation (flarekit.layers.build_augmenter) ---
crop_area = (0.3, 1.0)  # share of the image area a random crop keeps
rotation_degrees = 10.0  # small: every bipole's tilt turns with the image
# Gain and contrast jitter are off: they teach the encoder to ignore the
# field strength and EUV brightness in physical units, which carry most of the
# flare signal. Measured (docs/results/ssl_label_efficiency): with 0.1 dex gain
# and 0.2 contrast jitter the frozen features' linear probe reached test ROC
# AUC 0.780 (random weights: 0.768); without them 0.817.
brightness_dex = 0.0  # gain jitter, dex
contrast = 0.0  # log-domain contrast jitter, relative
noise_dex = 0.02  # log-domain Gaussian noise, dex
flip = "hemisphere"  # "none" | "hemisphere" (keeps Hale and Joy) | "any" (breaks both)

# --- architecture (flarekit.models.build_encoder) ---
image_size = 32  # images are resized to this before the backbone
backbone = "cnn"  # "cnn" (baseline CNN) | "resnet" (small pre-activation ResNet)
filters = (16, 32, 64)  # per CNN block / ResNet stage
blocks_per_stage = ()  # ResNet blocks per stage; () = one each
projection_width = 128  # hidden units of the projection head
projection_dim = 64  # size of the projections the loss compares
linear_probe = True  # monitor: logistic probe on frozen features, scored on validation

# --- optimisation ---
batch_size = 128  # negatives per anchor: 2 x batch - 2
epochs = 15
learning_rate = 0.3  # LARS peak rate (SimCLR: 0.3 x batch / 256; more for small batches)
optimizer = "lars"  # "lars" | "adam" (AdamW)
weight_decay = 1e-6
warmup_epochs = 2
temperature = 0.2  # NT-Xent temperature
seed = 0

# --- evaluation ---
tsne_examples = 500  # validation images in the t-SNE figure (0 = none)
output_dir = "runs"

# A CPU run of well under a minute, for CI and notebooks.
smoke = dict(
    mixed_precision="float32",  # tests compare smoke runs tightly
    dataset="synthetic_sun/active_region_smoke",
    image_size=32,
    filters=(8, 16),
    projection_width=32,
    projection_dim=16,
    batch_size=16,
    epochs=2,
    warmup_epochs=1,
    tsne_examples=40,
)
