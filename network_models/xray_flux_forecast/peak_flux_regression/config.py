# Peak-flux regression: log10 of the largest GOES flux within 24 h of an
# active-region observation (quiet = 1e-9 W/m^2 = -9), from the synthetic Sun.
# Scored with MAE, RMSE and the SDO-Benchmark per-class RMSE.
#
# Copy this folder to start a new experiment; every key below can also be
# overridden on the command line: python network.py --set epochs=3

# --- data ---
dataset = "synthetic_sun/active_region"  # TFDS "<builder>/<config>"
data_dir = ""  # TFDS data folder; "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
task = "regression"  # binary | multiclass | regression
threshold = "M1.0"  # for the binary skill of the thresholded prediction
channels = ("magnetogram", "continuum", "euv_171", "euv_94")
image_size = 64  # must match the dataset's patch size

# --- augmentation ---
# Oversampling positives in training batches (0 = off). Never applied to
# validation or test (flarekit refuses). Off: probabilities stay calibrated.
oversample = 0.0

# --- architecture ---
filters = (32, 64, 128)  # one conv block per entry; each halves the image
dense_units = 64
dropout = 0.3

# --- optimisation ---
batch_size = 32
epochs = 8
learning_rate = 1e-3
class_weight = "none"
mixed_precision = "auto"  # bf16 where the hardware computes it natively, else float32
seed = 0
strategy = "default"  # default | mirrored | multi_worker | tpu

# --- evaluation ---
bootstrap_samples = 1000  # region-resampled intervals
output_dir = "runs"  # run folders: <output_dir>/xray_flux_forecast/<experiment>/<UTC time>

# A CPU run of under a minute, for CI and for checking a copied folder works.
smoke = dict(
    dataset="synthetic_sun/active_region_smoke",
    image_size=32,
    filters=(8, 16),
    dense_units=16,
    epochs=2,
    bootstrap_samples=100,
    mixed_precision="float32",  # tests compare smoke runs tightly
)
