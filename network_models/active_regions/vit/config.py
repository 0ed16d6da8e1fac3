# Mount Wilson class (alpha / beta / beta-gamma / beta-gamma-delta) of active-region
# patches of the synthetic Sun, with a vision transformer (as SDOVIS did on SDO/HMI
# patches) or the baseline CNN on the same samples (architecture = "cnn").
# Scored with accuracy, macro-F1, the GMS and the confusion matrix; a ViT run also
# writes attention-rollout maps of test patches (figures/attention_rollout.png).
#
# Copy this folder to start a new experiment; every key below can also be
# overridden on the command line: python network.py --set architecture=cnn

# --- data ---
dataset = "synthetic_sun/active_region"  # TFDS "<builder>/<config>"
data_dir = ""  # TFDS data folder; "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
trainer = "feature_class"  # labels from a feature, not from flare flux
task = "multiclass"
label_feature = "mount_wilson"  # the ClassLabel feature holding the class
classes = ("alpha", "beta", "beta-gamma", "beta-gamma-delta")  # label order of the feature
channels = ("magnetogram", "continuum", "euv_171", "euv_94")
image_size = 64  # must match the dataset's patch size
train_split = "train"  # a TFDS split string; "train[:40%]" sizes a CPU run

# --- augmentation ---
# None: flips and rotations break Hale's and Joy's laws (SCIENCE.md trap 7), and the
# Mount Wilson class depends on the polarity layout.

# --- architecture ---
architecture = "vit"  # vit | cnn (the baseline, same data and preprocessing)
patch_size = 8  # 64 / 8 = 8 x 8 = 64 tokens
hidden_dim = 64  # token size
num_layers = 4  # encoder blocks
num_heads = 4
mlp_dim = 128
dropout = 0.1
attention_dropout = 0.0
pooling = "class_token"  # class_token | average
shifted_patch_tokenization = True  # Lee et al. 2021: helps ViTs on small data sets
locality_self_attention = True  # Lee et al. 2021: masked diagonal, learned temperature
filters = (32, 64, 128)  # CNN baseline: one conv block per entry
dense_units = 64  # CNN baseline
cnn_dropout = 0.3  # CNN baseline

# --- optimisation ---
batch_size = 32
epochs = 10
learning_rate = 1e-3
mixed_precision = "auto"  # bf16 where the hardware computes it natively, else float32
seed = 0
strategy = "default"  # default | mirrored | multi_worker | tpu

# --- evaluation ---
bootstrap_samples = 1000  # region-resampled intervals
attention_samples = 6  # test patches in the attention figure (one per class first)
output_dir = "runs"  # run folders: <output_dir>/active_regions/vit/<UTC time>

# A CPU run of under a minute, for CI and for checking a copied folder works.
smoke = dict(
    mixed_precision="float32",  # tests compare smoke runs tightly
    dataset="synthetic_sun/active_region_smoke",
    image_size=32,
    patch_size=8,
    hidden_dim=16,
    num_layers=1,
    num_heads=2,
    mlp_dim=32,
    filters=(8, 16),
    dense_units=16,
    epochs=2,
    bootstrap_samples=100,
    attention_samples=4,
)
