"""The Res3D-18 builder (C3D v1.1), a functional Keras model laid out from ``res3d18_plan``.

In the style of ``keras.applications``, like ``C3D_model``: ``Res3D18(weights,
include_top, num_classes, input_shape)``, every argument checked before anything is
built with a "Received: …" error, and only Keras 3 APIs, so it runs on the TensorFlow,
JAX and torch backends. Layers carry the prototxt's names (``conv1``, ``bn_conv1``,
``res2a_branch2a``, ``res2a``, ``pool5``, ``fc8``), so a converted Caffe file loads by
name.

It takes mean-subtracted float clips: (8, 112, 112, 3) BGR frames minus 128, taken every
2nd video frame (``c3d.video.clip_format.ClipFormat.for_model("res3d18")`` makes them).
"""

import keras

from c3d.model import res3d18_plan as plan

NAME = "res3d18"
# As C3D-BN's (c3d.model.builder.BN_MOMENTUM): PyTorch's 0.1, for fine-tuning runs whose
# statistics must settle in a few hundred steps. Inference uses the stored statistics.
BN_MOMENTUM = 0.9
KERNEL_INITIALIZER = "he_normal"  # the prototxt's "msra" filler


def Res3D18(
    weights=None, include_top=True, num_classes=plan.NUM_CLASSES, input_shape=plan.INPUT_SHAPE
):
    """Build Res3D-18 (Tran et al. 2017; C3D v1.1), channels-last.

    Args:
        weights: None (random init), a weights name (``"res3d18_sports1m"``,
            ``"res3d18_ucf101"``: the converted file in the cache, see
            ``c3d.model.presets``) or a path to a Keras ``.weights.h5`` with this model's
            layer names (``c3d convert`` writes one from the authors' Caffe file). When
            the file's fc8 has another class count than ``num_classes``, or the file has
            no fc8, fc8 stays freshly initialised (fine-tuning).
        include_top: False ends the model at ``flatten`` (pool5, 512 values).
        num_classes: size of fc8.
        input_shape: (frames, height, width, 3). With the top, pool5 must be 512 values
            (res5b 1x7x7, as from the default 8x112x112).
    """
    from c3d.model.builder import check_arguments

    input_shape = check_arguments(weights, include_top, num_classes, input_shape, plan)
    plan.check_input_shape(input_shape, include_top=include_top)
    if weights is not None:
        from c3d.model.resolve import check_buildable, check_kind, resolve_weights
        from c3d.model.weights import file_architecture

        check_buildable(weights, architecture=NAME)  # a C3D preset: before any download
        weights = resolve_weights(weights)  # a preset is fetched on first use
        check_kind(weights, NAME, file_architecture(weights))  # not a C3D file
    loaded = () if weights is None else plan.WEIGHTED_LAYERS[:-1]
    model = res3d18_functional(num_classes if include_top else None, input_shape, zero_init=loaded)
    if weights is not None:
        from c3d.model.weights import load_weights_into

        load_weights_into(model, weights, optional=(plan.CLASSIFIER,))
    return model


def res3d18_functional(
    num_classes=plan.NUM_CLASSES,
    input_shape=plan.INPUT_SHAPE,
    *,
    bn_momentum=BN_MOMENTUM,
    name=NAME,
    zero_init=(),
):
    """Res3D-18 with fresh weights; ``num_classes=None`` ends it at pool5 (512 values).

    Layers named in ``zero_init`` get zero kernels instead of a random draw (~0.3 s), for
    callers about to set them (weight loading, the converter).
    """
    layers = keras.layers
    input_shape = plan.check_input_shape(input_shape, include_top=num_classes is not None)

    def conv_bn(x, conv, relu):
        if any(conv.padding):
            # Caffe pads both sides alike and rounds down; "same" would pad a stride-2
            # convolution of an even size on the right only (another network).
            x = layers.ZeroPadding3D(tuple((p, p) for p in conv.padding), name=conv.pad_name)(x)
        x = layers.Conv3D(
            conv.filters,
            conv.kernel,
            strides=conv.strides,
            padding="valid",
            use_bias=False,
            kernel_initializer="zeros" if conv.name in zero_init else KERNEL_INITIALIZER,
            name=conv.name,
        )(x)
        # Caffe's BatchNorm (mean, variance / scale factor, eps 1e-5) and Scale (gamma, beta)
        x = layers.BatchNormalization(epsilon=plan.BN_EPSILON, momentum=bn_momentum, name=conv.bn)(
            x
        )
        return layers.Activation("relu", name=conv.relu)(x) if relu else x

    inputs = keras.Input(shape=input_shape, name="clip")
    x = conv_bn(inputs, plan.CONV1, relu=True)
    for block in plan.BLOCKS:
        shortcut = x if block.branch1 is None else conv_bn(x, block.branch1, relu=False)
        branch = conv_bn(x, block.branch2a, relu=True)
        branch = conv_bn(branch, block.branch2b, relu=False)
        x = layers.Add(name=block.name)([shortcut, branch])  # Caffe's Eltwise (SUM)
        x = layers.Activation("relu", name=block.relu)(x)
    x = layers.AveragePooling3D(plan.POOL5, strides=1, name=plan.POOL5_NAME)(x)
    x = layers.Flatten(name=plan.FLATTEN)(x)
    if num_classes is not None:
        x = layers.Dense(
            num_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),  # the prototxt's
            name=plan.CLASSIFIER,
        )(x)
    model = keras.Model(inputs, x, name=name)
    for layer in model.layers:  # a clone or a saved .keras rebuilds a trainable model
        if isinstance(layer, layers.Conv3D):
            layer.kernel_initializer = keras.initializers.get(KERNEL_INITIALIZER)
    return model


def is_res3d18(model):
    """Whether ``model`` is a Res3D-18 (or a model cut from one): it has res5b."""
    return any(layer.name == plan.LAST_BLOCK for layer in model.layers)
