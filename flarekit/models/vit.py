"""Vision transformer (ViT) for solar image patches, with the small-data options.

A ViT cuts an image into patches, projects each patch to a token, adds learned
position embeddings (and, optionally, a class token), runs pre-norm
transformer encoder blocks and pools the tokens into one feature vector
(Dosovitskiy et al. 2021). Trained from scratch on a few thousand patches, as
solar data sets are, a plain ViT lacks the locality bias of a CNN; two cheap
changes from Lee et al. (2021) restore some of it:

- shifted patch tokenisation: each patch token also sees the image shifted
  by half a patch in the four diagonal directions, so a token spans a
  wider, overlapping receptive field;
- locality self-attention: a token may not attend to itself (the diagonal of
  the attention matrix is masked) and the softmax temperature is learned, so
  attention sharpens on other tokens instead of spreading evenly.

Everything uses `keras.ops` only, so the layers run on the TensorFlow, JAX
and PyTorch backends; every layer has `get_config`, so `.keras` files round
trip. Attention scores come back from `TransformerBlock(...,
return_attention_scores=True)`, which `flarekit.interpret.attention` uses for
attention-rollout maps.

References:
    Dosovitskiy, A. et al. 2021, ICLR, "An Image is Worth 16x16 Words".
    Lee, S. H., Lee, S. & Song, B. C. 2021, arXiv:2112.13492, "Vision
    Transformer for Small-Size Datasets" (SPT and LSA).
    Xiong, R. et al. 2020, ICML, "On Layer Normalization in the Transformer
    Architecture" (pre-norm blocks).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from flarekit.layers.serialization import ConfigFromAttributes
from flarekit.models.inputs import (
    IMAGE_AXES,
    check_input_shape,
    check_sizes,
    preprocessed_input,
)

POOLING_MODES = ("class_token", "average")
# Added to masked attention logits; large enough to zero the softmax weight in
# float32, where the logits are computed (see MultiHeadSelfAttention.call).
MASK_VALUE = -1e9


@keras.saving.register_keras_serializable(package="flarekit")
class PatchEmbedding(ConfigFromAttributes, layers.Layer):
    """Cut images into non-overlapping patches and project each to a token.

    With `shifted=True` this is shifted patch tokenisation (Lee et al. 2021):
    the image is concatenated along channels with four copies shifted by
    half a patch diagonally (zero filled), the flattened patches are layer
    normalised and then projected.

    Args:
        patch_size: patch side in pixels (int or (height, width)); the image
            sides must be multiples of it.
        hidden_dim: size of each token.
        shifted: use shifted patch tokenisation.

    Input: [batch, height, width, channels]. Output: [batch, patches, hidden_dim],
    patches in row-major order over the (height / p, width / p) grid.

    Example:
        >>> PatchEmbedding(8, 64)(keras.ops.zeros((2, 32, 32, 4))).shape
        (2, 16, 64)
    """

    config_attributes = ("patch_size", "hidden_dim", "shifted")

    def __init__(
        self, patch_size=8, hidden_dim: int = 64, shifted: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.patch_size = check_sizes(patch_size, 2, "patch_size")
        if int(hidden_dim) < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim!r}.")
        self.hidden_dim = int(hidden_dim)
        self.shifted = bool(shifted)
        self.projection = layers.Dense(self.hidden_dim, name="projection")
        self.patch_norm = (
            layers.LayerNormalization(epsilon=1e-6, name="patch_norm")
            if self.shifted
            else None
        )

    def grid_shape(self, input_shape) -> tuple:
        """(rows, columns) of the patch grid for an input shape."""
        height, width = int(input_shape[-3]), int(input_shape[-2])
        rows, columns = height // self.patch_size[0], width // self.patch_size[1]
        if rows * self.patch_size[0] != height or columns * self.patch_size[1] != width:
            raise ValueError(
                f"Image size {(height, width)} is not a multiple of patch_size "
                f"{self.patch_size}."
            )
        return rows, columns

    def build(self, input_shape):
        rows, columns = self.grid_shape(input_shape)
        copies = 5 if self.shifted else 1
        patch_dim = (
            self.patch_size[0] * self.patch_size[1] * int(input_shape[-1]) * copies
        )
        if self.patch_norm is not None:
            self.patch_norm.build((None, rows * columns, patch_dim))
        self.projection.build((None, rows * columns, patch_dim))

    def _shifted_copies(self, images):
        half_h, half_w = self.patch_size[0] // 2, self.patch_size[1] // 2
        height, width = images.shape[1], images.shape[2]
        padded = ops.pad(images, [[0, 0], [half_h, half_h], [half_w, half_w], [0, 0]])
        copies = [images]
        # Offsets into the padded image: each window is the image moved by half
        # a patch towards one of the four diagonal directions.
        for top, left in (
            (0, 0),
            (0, 2 * half_w),
            (2 * half_h, 0),
            (2 * half_h, 2 * half_w),
        ):
            copies.append(padded[:, top : top + height, left : left + width, :])
        return ops.concatenate(copies, axis=-1)

    def call(self, images):
        if self.shifted:
            images = self._shifted_copies(images)
        rows, columns = self.grid_shape(images.shape)
        patch_h, patch_w = self.patch_size
        channels = images.shape[-1]
        patches = ops.reshape(images, (-1, rows, patch_h, columns, patch_w, channels))
        patches = ops.transpose(patches, (0, 1, 3, 2, 4, 5))
        patches = ops.reshape(
            patches, (-1, rows * columns, patch_h * patch_w * channels)
        )
        if self.patch_norm is not None:
            patches = self.patch_norm(patches)
        return self.projection(patches)

    def compute_output_shape(self, input_shape):
        rows, columns = self.grid_shape(input_shape)
        return (input_shape[0], rows * columns, self.hidden_dim)


@keras.saving.register_keras_serializable(package="flarekit")
class ClassToken(layers.Layer):
    """Prepend one learned token to a token sequence ([B, N, D] -> [B, N + 1, D]).

    After the encoder, the output at this position summarises the image
    (Dosovitskiy et al. 2021).
    """

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token",
            shape=(1, 1, int(input_shape[-1])),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        token = ops.cast(self.token, tokens.dtype)
        token = ops.broadcast_to(token, (batch, 1, tokens.shape[-1]))
        return ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


@keras.saving.register_keras_serializable(package="flarekit")
class PositionEmbedding(ConfigFromAttributes, layers.Layer):
    """Add a learned embedding to each position of a fixed-length token sequence.

    Works on [B, N, D] and, for factorised video tokens, on [B, T, N, D]: the
    embedding has the shape of one example's tokens.

    Args:
        stddev: standard deviation of the initial embedding.
    """

    config_attributes = ("stddev",)

    def __init__(self, stddev: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if stddev <= 0:
            raise ValueError(f"stddev must be > 0, got {stddev!r}.")
        self.stddev = float(stddev)

    def build(self, input_shape):
        if any(v is None for v in input_shape[1:]):
            raise ValueError(
                f"PositionEmbedding needs a fixed token shape, got {input_shape}."
            )
        self.embedding = self.add_weight(
            name="embedding",
            shape=(1, *(int(v) for v in input_shape[1:])),
            initializer=keras.initializers.RandomNormal(stddev=self.stddev),
        )

    def call(self, tokens):
        return tokens + ops.cast(self.embedding, tokens.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class MultiHeadSelfAttention(ConfigFromAttributes, layers.Layer):
    """Multi-head self-attention over [B, N, D], optionally locality self-attention.

    Notation (Vaswani et al. 2017): queries Q, keys K, values V of `num_heads`
    heads of size d = D / num_heads; weights softmax(Q K^T / tau); tau =
    sqrt(d) fixed, or, with `locality=True`, learned and started at sqrt(d),
    with each token's attention to itself masked (Lee et al. 2021).

    Args:
        num_heads: attention heads; must divide the token size.
        dropout: dropout on the attention weights.
        locality: locality self-attention (diagonal mask, learned temperature).

    Call args:
        tokens: [B, N, D].
        training: dropout on or off.
        return_attention_scores: also return the weights [B, heads, N, N].

    Example:
        >>> attention = MultiHeadSelfAttention(num_heads=4, locality=True)
        >>> outputs, weights = attention(tokens, return_attention_scores=True)
    """

    config_attributes = ("num_heads", "dropout", "locality")

    def __init__(
        self, num_heads: int = 4, dropout: float = 0.0, locality: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads!r}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.locality = bool(locality)
        self.attention_dropout = layers.Dropout(self.dropout)

    def build(self, input_shape):
        hidden_dim = int(input_shape[-1])
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"Token size {hidden_dim} is not divisible by "
                f"num_heads={self.num_heads}."
            )
        self.head_dim = hidden_dim // self.num_heads
        self.qkv = layers.Dense(3 * hidden_dim, name="qkv")
        self.qkv.build(input_shape)
        self.output_projection = layers.Dense(hidden_dim, name="output_projection")
        self.output_projection.build(input_shape)
        # log(tau) is learned so that tau stays positive.
        self.log_temperature = self.add_weight(
            name="log_temperature",
            shape=(),
            initializer=keras.initializers.Constant(0.5 * math.log(self.head_dim)),
            trainable=self.locality,
        )

    def call(self, tokens, training=None, return_attention_scores: bool = False):
        length, hidden_dim = tokens.shape[-2], tokens.shape[-1]
        qkv = ops.reshape(
            self.qkv(tokens), (-1, length, 3, self.num_heads, self.head_dim)
        )
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # [3, B, heads, N, d]
        query, key, value = qkv[0], qkv[1], qkv[2]
        # Logits and softmax in float32: bfloat16 logits lose the small
        # differences that decide where attention goes.
        logits = ops.einsum(
            "bhqd,bhkd->bhqk", ops.cast(query, "float32"), ops.cast(key, "float32")
        )
        logits = logits / ops.exp(ops.cast(self.log_temperature, "float32"))
        if self.locality:
            diagonal = ops.eye(length, dtype="bool")
            logits = ops.where(diagonal, MASK_VALUE, logits)
        weights = ops.softmax(logits, axis=-1)
        dropped = self.attention_dropout(weights, training=training)
        outputs = ops.einsum("bhqk,bhkd->bhqd", ops.cast(dropped, value.dtype), value)
        outputs = ops.reshape(
            ops.transpose(outputs, (0, 2, 1, 3)), (-1, length, hidden_dim)
        )
        outputs = self.output_projection(outputs)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape


class PreNormBlock(ConfigFromAttributes, layers.Layer):
    """Base class of pre-norm transformer blocks: the arguments and the MLP.

    A block is residual attention sublayer(s), each x + MHSA(LN(x)), then the
    residual MLP x + W2 dropout(GELU(W1 LN(x))) this class owns (Xiong et al.
    2020). `TransformerBlock` attends over one token axis, the video model's
    `FactorisedSpaceTimeBlock` over space and then time.

    Args:
        num_heads: attention heads.
        mlp_dim: hidden units of the two-layer GELU MLP.
        dropout: dropout after the attention and in the MLP.
        attention_dropout: dropout on the attention weights.

    Raises:
        ValueError: mlp_dim < 1.
    """

    config_attributes = ("num_heads", "mlp_dim", "dropout", "attention_dropout")

    def __init__(
        self,
        num_heads: int = 4,
        mlp_dim: int = 128,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(mlp_dim) < 1:
            raise ValueError(f"mlp_dim must be >= 1, got {mlp_dim!r}.")
        self.num_heads = int(num_heads)
        self.mlp_dim = int(mlp_dim)
        self.dropout = float(dropout)
        self.attention_dropout = float(attention_dropout)
        self.mlp_norm = layers.LayerNormalization(epsilon=1e-6, name="mlp_norm")
        self.mlp_hidden = layers.Dense(
            self.mlp_dim, activation="gelu", name="mlp_hidden"
        )
        self.mlp_hidden_dropout = layers.Dropout(self.dropout)
        self.mlp_output_dropout = layers.Dropout(self.dropout)

    def attention_sublayer(
        self, name: str, locality: bool = False
    ) -> MultiHeadSelfAttention:
        """A self-attention with this block's heads and attention dropout."""
        return MultiHeadSelfAttention(
            self.num_heads, self.attention_dropout, locality, name=name
        )

    def build_mlp(self, input_shape):
        """Build the MLP sublayers for tokens of `input_shape` ([..., D])."""
        self.mlp_norm.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output = layers.Dense(int(input_shape[-1]), name="mlp_output")
        self.mlp_output.build((*input_shape[:-1], self.mlp_dim))

    def mlp_residual(self, tokens, training=None):
        """tokens + MLP(LN(tokens)), with dropout in and after the MLP."""
        hidden = self.mlp_hidden_dropout(
            self.mlp_hidden(self.mlp_norm(tokens)), training=training
        )
        return tokens + self.mlp_output_dropout(
            self.mlp_output(hidden), training=training
        )

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class TransformerBlock(PreNormBlock):
    """Pre-norm transformer encoder block: x + MHSA(LN(x)), then x + MLP(LN(x)).

    Args:
        num_heads, mlp_dim, dropout, attention_dropout: as `PreNormBlock`
            (positional or keyword).
        locality: locality self-attention (see `MultiHeadSelfAttention`);
            keyword only.

    Call args:
        tokens: [B, N, D].
        return_attention_scores: also return the weights [B, heads, N, N].

    Example:
        >>> block = TransformerBlock(num_heads=4, mlp_dim=128, locality=True)
        >>> tokens, weights = block(tokens, return_attention_scores=True)
    """

    config_attributes = (*PreNormBlock.config_attributes, "locality")

    def __init__(self, *args, locality: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.locality = bool(locality)
        self.attention_norm = layers.LayerNormalization(
            epsilon=1e-6, name="attention_norm"
        )
        self.attention = self.attention_sublayer("attention", self.locality)
        self.attention_output_dropout = layers.Dropout(self.dropout)

    def build(self, input_shape):
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape)
        self.build_mlp(input_shape)

    def call(self, tokens, training=None, return_attention_scores: bool = False):
        attended, weights = self.attention(
            self.attention_norm(tokens), training=training, return_attention_scores=True
        )
        tokens = tokens + self.attention_output_dropout(attended, training=training)
        tokens = self.mlp_residual(tokens, training=training)
        if return_attention_scores:
            return tokens, weights
        return tokens


@keras.saving.register_keras_serializable(package="flarekit")
class TokenPooling(ConfigFromAttributes, layers.Layer):
    """One feature vector from [B, N, D] tokens: the class token or their mean.

    Args:
        mode: "class_token" (token 0) or "average" (mean over tokens).
    """

    config_attributes = ("mode",)

    def __init__(self, mode: str = "class_token", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(
                f"pooling mode must be one of {POOLING_MODES}, got {mode!r}."
            )
        self.mode = mode

    def call(self, tokens):
        if self.mode == "class_token":
            return tokens[:, 0]
        return ops.mean(tokens, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def build_vit(
    input_shape,
    patch_size=8,
    hidden_dim: int = 64,
    num_layers: int = 4,
    num_heads: int = 4,
    mlp_dim: int = 128,
    dropout: float = 0.1,
    attention_dropout: float = 0.0,
    pooling: str = "class_token",
    shifted_patch_tokenization: bool = False,
    locality_self_attention: bool = False,
    preprocessing=(),
    head=None,
    name: str = "vit",
) -> keras.Model:
    """A functional vision transformer from images to features (or a task head).

    Args:
        input_shape: (height, width, channels), raw physical values; height
            and width multiples of `patch_size`.
        patch_size: patch side in pixels (int or pair).
        hidden_dim: token size D.
        num_layers: transformer encoder blocks.
        num_heads: attention heads per block; must divide `hidden_dim`.
        mlp_dim: hidden units of each block's MLP.
        dropout: dropout in the blocks and before the head.
        attention_dropout: dropout on attention weights.
        pooling: "class_token" (prepend a learned token, read it out) or
            "average" (mean of the patch tokens, no class token).
        shifted_patch_tokenization: SPT of Lee et al. (2021).
        locality_self_attention: LSA of Lee et al. (2021).
        preprocessing: layers applied first, in order (e.g.
            `flarekit.layers.preprocessing_for(channels)`).
        head: output layer (see `flarekit.models.build_head`); None returns
            the pooled features.
        name: model name.

    Returns:
        A `keras.Model`. Its `TransformerBlock` layers (named
        `encoder_block_<i>`) give attention scores for `flarekit.interpret.attention`.

    Raises:
        ValueError: a bad shape, patch size, head count or pooling mode.

    Example:
        >>> model = build_vit((64, 64, 4), patch_size=8, hidden_dim=64, num_layers=4,
        ...                   num_heads=4, mlp_dim=128, shifted_patch_tokenization=True,
        ...                   locality_self_attention=True, head=build_head(task))
    """
    input_shape = check_input_shape(input_shape, IMAGE_AXES, "build_vit")
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}.")
    if int(num_layers) < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers!r}.")
    if hidden_dim % num_heads:
        raise ValueError(
            f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}."
        )
    inputs, x = preprocessed_input(input_shape, preprocessing)
    x = PatchEmbedding(
        patch_size,
        hidden_dim,
        shifted=shifted_patch_tokenization,
        name="patch_embedding",
    )(x)
    if pooling == "class_token":
        x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for index in range(int(num_layers)):
        x = TransformerBlock(
            num_heads,
            mlp_dim,
            dropout=dropout,
            attention_dropout=attention_dropout,
            locality=locality_self_attention,
            name=f"encoder_block_{index}",
        )(x)
    x = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    x = TokenPooling(pooling, name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = head(x) if head is not None else x
    return keras.Model(inputs, outputs, name=name)
