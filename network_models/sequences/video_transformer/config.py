# Binary forecast: at least one flare >= M1.0 within 24 h (dataset "sequence") or
# 48 h ("sequence_48h") of the last frame of a 16-frame active-region sequence of the
# synthetic Sun, with a video transformer, or the single-frame CNN on the same
# samples (architecture = "frame_cnn"): does the sequence carry information the
# last frame lacks? Protocol of Grim & Gradvohl's MViT work, made safe: hybrid
# k-fold split, oversampling variants by physically valid transforms only, mean +-
# sd over folds on the untouched test block.
#
# Copy this folder to start a new experiment; every key below can also be
# overridden on the command line: python network.py --set dataset=synthetic_sun/sequence_48h

# --- data ---
dataset = "synthetic_sun/sequence"  # or "synthetic_sun/sequence_48h" (48 h horizon)
data_dir = ""  # TFDS data folder; "" = $FLAREKIT_DATA_DIR or ~/tensorflow_datasets
trainer = "sequence_kfold"  # hybrid k-fold runner (flarekit.experiments.sequence_kfold)
task = "sequence"  # binary target from the `frames` feature, labelled at the last frame
threshold = "M1.0"  # a flare >= this class in the window is a positive
channels = ("magnetogram", "continuum", "euv_171", "euv_94")
frames = 16  # must match the dataset's sequence length
image_size = 32  # must match the dataset's frame size

# --- split: k folds over the first block in time, the last block a chronological test ---
n_folds = 5
test_fraction = 0.2  # share of the usable time span in the test block
fold_gap_days = 27.0  # one solar rotation between validation fold and training, and before the test block
fold_by = "time"  # time (contiguous blocks, gaps) | region (grouped, overlapping in time)

# --- oversampling (never the test block: any variant naming it raises EvaluationSetError) ---
oversampling = "train"  # none | train | train_and_validation
oversample_copies = 5  # extra copies per positive, as the MViT work made (by flips there)
transforms = ("time_shift", "noise")  # physically valid only; flips/rotations are refused
max_time_shift = 3  # frames the sequence start may move (label frame unchanged)
noise_level = 0.02  # noise sd as a fraction of each channel's spread in the sample

# --- architecture ---
architecture = "factorised"  # factorised | video_swin | frame_cnn (the last-frame control)
tubelet_size = (2, 8, 8)  # frames x pixels x pixels per token: 8 x 16 tokens for 16 x 32 x 32
hidden_dim = 64  # token size (video_swin: stage-1 embedding)
num_layers = 3  # factorised space-time blocks
num_heads = 4
mlp_dim = 128  # video_swin uses mlp_dim / hidden_dim as its MLP ratio
dropout = 0.1
attention_dropout = 0.0
swin_depths = (2, 2)  # video_swin: blocks per stage
swin_num_heads = (2, 4)  # video_swin: heads per stage
swin_window_size = (4, 4, 4)  # video_swin: 3-D window in tokens
drop_path_rate = 0.1  # video_swin: stochastic depth
filters = (32, 64, 128)  # frame_cnn: one conv block per entry
dense_units = 64  # frame_cnn
cnn_dropout = 0.3  # frame_cnn

# --- optimisation ---
batch_size = 32
epochs = 6
learning_rate = 1e-3
class_weight = "none"  # oversampling already rebalances; "balanced" reweights instead
mixed_precision = "auto"  # bf16 where the hardware computes it natively, else float32
seed = 0
strategy = "default"  # default | mirrored | multi_worker | tpu

# --- evaluation ---
bootstrap_samples = 1000  # region-resampled intervals per fold
attention_samples = 3  # test sequences drawn with attention maps (positives first)
output_dir = "runs"  # run folders: <output_dir>/sequences/video_transformer/<UTC time>

# A CPU run of under a minute, for CI and for checking a copied folder works.
smoke = dict(
    mixed_precision="float32",  # tests compare smoke runs tightly
    dataset="synthetic_sun/sequence_smoke",
    image_size=16,
    n_folds=2,
    fold_gap_days=3.0,
    tubelet_size=(4, 8, 8),
    hidden_dim=16,
    num_layers=1,
    num_heads=2,
    mlp_dim=32,
    swin_depths=(1,),
    swin_num_heads=(2,),
    swin_window_size=(2, 2, 2),
    filters=(8, 16),
    dense_units=16,
    epochs=2,
    bootstrap_samples=100,
    attention_samples=2,
)
