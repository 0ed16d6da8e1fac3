# Binary flare forecast on SDO-Benchmark as SolarNet did: at least one flare
# >= C1.0 within 24 h of the last image (10 min before the window), from the
# 10 AIA/HMI channels of SDO-Benchmark's last time step. The threshold applies
# to the dataset's own flux scale (SWPC flux / 0.85, recorded in its
# metadata), as SolarNet and the SDO-Benchmark leaderboard did; on true flux
# the same cut is C1.2. Published anchor (SCIENCE.md): TSS 0.646 / HSS 0.638
# (SolarNet, SimCLR fine-tuned), 0.607 for a plain CNN, on the official test
# set (~880 samples, 59.5 % >= C).
#
# Copy this folder to start a new experiment; every key below can also be
# overridden on the command line: python network.py --set epochs=3

# --- data ---
dataset = "sdo_benchmark/last_step"  # needs the archive in the TFDS manual folder
data_dir = ""  # TFDS data folder; "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
task = "binary"
threshold = "C1.0"  # on the SDO-Benchmark scale (SWPC / 0.85)
channels = ("sdo_94", "sdo_131", "sdo_171", "sdo_193", "sdo_211", "sdo_304",
            "sdo_335", "sdo_1700", "sdo_continuum", "sdo_magnetogram")
image_size = 256  # must match the dataset's image size

# --- augmentation ---
# Oversampling positives in training batches (0 = off). Never applied to
# validation or test (flarekit refuses). >= C is 40-60 % of samples: no need.
oversample = 0.0

# --- architecture ---
filters = (32, 64, 128, 128, 256)  # one conv block per entry; 256 px -> 8 px
dense_units = 128
dropout = 0.3

# --- optimisation ---
batch_size = 32
epochs = 20
learning_rate = 3e-4  # ten input channels of very different contrast: go slower
class_weight = "none"
mixed_precision = "auto"  # bf16 where the hardware computes it natively, else float32
seed = 0
strategy = "default"  # default | mirrored | multi_worker | tpu

# --- evaluation ---
bootstrap_samples = 1000  # region-resampled intervals
output_dir = "runs"  # run folders: <output_dir>/sdo_benchmark/binary_c24/<UTC time>

# A CPU run of under a minute on the packaged dummy data, for CI and for
# checking a copied folder works.
smoke = dict(
    dataset="sdo_benchmark/last_step_smoke",
    image_size=16,
    filters=(8, 16),
    dense_units=16,
    epochs=2,
    batch_size=4,
    bootstrap_samples=100,
    mixed_precision="float32",  # tests compare smoke runs tightly
)
