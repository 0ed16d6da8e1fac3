# Class-conditional diffusion model of active-region patches: generate a
# magnetogram and a hot EUV (94-like) image for a chosen GOES class, with
# classifier-free guidance (Ramunno & Csillaghy's setting, on the synthetic Sun).
#
# Copy this folder to start a new experiment; every key can be overridden:
# python network.py --set epochs=10 --set prediction_type=noise

trainer = "diffusion"  # flarekit.experiments.generation.DiffusionExperiment

# --- data ---
dataset = "synthetic_sun/active_region"  # TFDS "<builder>/<config>"
data_dir = ""  # "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
task = "generation"
condition = (
    "goes_class"  # goes_class (quiet, A, B, C, M, X) | log_flux (log10 peak flux)
)
# Two of the four channels: the field that sets the flare rate, and the hot
# corona that brightens in flares. Fewer channels train faster on a CPU.
channels = ("magnetogram", "euv_94")
image_size = 64  # the dataset's patch size
# Generate at image_size / bin_factor: 1 = the full 64 x 64 patch (a ~60-minute
# CPU run on 2 cores); 2 gives 32 x 32 images and a ~4x cheaper run.
bin_factor = 1

# --- architecture ---
widths = (16, 32, 64, 128)  # UNet channels per level (64, 32, 16, 8 px)
blocks_per_level = 1
attention_resolution = 8  # self-attention on feature maps of <= 8 x 8 px
embedding_dim = 64  # time and condition embeddings
dropout = 0.0

# --- diffusion ---
schedule = "cosine"  # cosine | linear
prediction_type = "velocity"  # noise | image | velocity (v is stable at both ends of t)
p_uncond = 0.1  # condition dropout: teaches the null condition guidance needs
ema_decay = 0.999  # ~1000-step horizon: a CPU run has ~4900 steps

# --- optimisation ---
batch_size = 32
epochs = 16  # 309 steps each; ~0.62 s per step on 2 idle CPU cores
learning_rate = 1e-3
weight_decay = 1e-4
mixed_precision = "auto"  # bf16 where the hardware computes it natively, else float32
seed = 0

# --- closing samples (the report's contact sheet) ---
sample_sampler = "dpmpp"  # ddpm | ddim | dpmpp
sample_steps = 20
guidance_scale = 2.0  # 1 = plain conditional model
samples_per_class = 4
output_dir = "runs"

# A CPU run of well under a minute, for CI and for checking a copied folder works.
smoke = dict(
    dataset="synthetic_sun/active_region_smoke",
    image_size=32,
    bin_factor=4,  # 8 x 8 images
    widths=(8, 16),
    embedding_dim=16,
    attention_resolution=4,
    epochs=1,
    batch_size=16,
    mixed_precision="float32",  # tests compare smoke runs tightly
    sample_steps=2,
    samples_per_class=1,
)
