# SimCLR pretraining of an image encoder on unlabelled synthetic full-disk
# images of the TRAINING period only (SCIENCE.md trap 3: flarekit refuses any
# other pretrain_split). The encoder is saved as <run>/encoder.keras; load it
# with flarekit.models.load_encoder, or fine-tune it with ../finetune_binary.
#
# Every key can be overridden: python network.py --set epochs=50

trainer = "simclr"

# --- data ---
dataset = "synthetic_sun/full_disk"  # 128x128x4 full-disk images
data_dir = ""  # "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
pretrain_split = "train"  # only "train" or a slice of it ("train[:50%]")
task = "binary"  # labels are used by the linear probe only, never by the encoder
# Probe target: a flare >= M1.0 on the disk within 24 h (>= C1.0 is ~97 % of days).
threshold = "M1.0"
channels = ("magnetogram", "continuum", "euv_171", "euv_94")

# --- augmentation (flarekit.layers.build_augmenter) ---
crop_area = (0.3, 1.0)  # share of the image area a random crop keeps
rotation_degrees = 10.0  # small: every bipole's tilt turns with the image
brightness_dex = 0.1  # gain jitter, dex
contrast = 0.2  # log-domain contrast jitter, relative
noise_dex = 0.02  # log-domain Gaussian noise, dex
flip = "none"  # "none" | "hemisphere" (keeps Hale and Joy) | "any" (breaks both)

# --- architecture (flarekit.models.build_encoder) ---
image_size = 64  # images are resized to this before the backbone
backbone = "cnn"  # "cnn" (baseline CNN) | "resnet" (small pre-activation ResNet)
filters = (16, 32, 64)  # per CNN block / ResNet stage
blocks_per_stage = ()  # ResNet blocks per stage; () = one each
projection_width = 128  # hidden units of the projection head
projection_dim = 64  # size of the projections the loss compares
linear_probe = True  # monitor: logistic probe on frozen features, scored on validation

# --- optimisation ---
batch_size = 64  # negatives per anchor: 2 x batch - 2
epochs = 30
learning_rate = 0.3  # LARS peak rate (SimCLR: 0.3 x batch / 256; more for small batches)
optimizer = "lars"  # "lars" | "adam" (AdamW)
weight_decay = 1e-6
warmup_epochs = 3
temperature = 0.2  # NT-Xent temperature
seed = 0

# --- evaluation ---
tsne_examples = 500  # validation images in the t-SNE figure (0 = none)
output_dir = "runs"

# A CPU run of well under a minute, for CI and notebooks.
smoke = dict(
    mixed_precision="float32",  # tests compare smoke runs tightly
    dataset="synthetic_sun/full_disk_smoke",
    image_size=32,
    filters=(8, 16),
    projection_width=32,
    projection_dim=16,
    batch_size=16,
    epochs=2,
    warmup_epochs=1,
    tsne_examples=40,
)
