# Conditional VAE baseline of the diffusion model: same data, channels and
# binning, so the two are scored by the same metrics on the same images.

trainer = "cvae"  # flarekit.experiments.generation.CVAEExperiment

# --- data ---
dataset = "synthetic_sun/active_region"
data_dir = ""
task = "generation"
condition = "goes_class"  # goes_class | log_flux
channels = ("magnetogram", "euv_94")
image_size = 64
bin_factor = 1  # generate at 64 x 64, as the diffusion starter

# --- architecture ---
latent_dim = 32
widths = (32, 64)  # stride-2 convolutions of the encoder (mirrored in the decoder)
embedding_dim = 32
beta = 1.0  # KL weight (1 = the ELBO with a unit-variance Gaussian likelihood)

# --- optimisation ---
batch_size = 64
epochs = 6
learning_rate = 1e-3
weight_decay = 1e-4
seed = 0

# --- closing samples ---
sample_sampler = "decoder"  # a VAE samples in one decoder call
sample_steps = 1
guidance_scale = 1.0
samples_per_class = 4
output_dir = "runs"

smoke = dict(
    mixed_precision="float32",  # tests compare smoke runs tightly
    dataset="synthetic_sun/active_region_smoke",
    image_size=32,
    bin_factor=4,
    latent_dim=4,
    widths=(8,),
    embedding_dim=8,
    epochs=1,
    batch_size=16,
    samples_per_class=1,
)
