"""The C3D builder family: one function, C3D-BN as a flag, built from ``c3d.model.plan``.

In the style of ``keras.applications``: one builder per model (``C3D_model`` for the
Sports-1M C3D, ``C3D_BN`` for the BatchNorm variant, both ``C3D`` underneath), the same
argument order for both (``weights, include_top, num_classes, input_shape``), and every
argument checked before anything is built, with a "Received: …" error. Only Keras 3
APIs are used, so the models run on the TensorFlow, JAX and torch backends.
"""

import keras

from c3d.errors import C3DError
from c3d.model import plan
from c3d.model.precision import PRECISIONS, check_precision, dtype_policy
from c3d.model.resolve import check_buildable, check_classifier, head_size, resolve_weights

# BatchNorm statistics move as in PyTorch (its momentum 0.1 is Keras's 0.9), the C3D-BN
# ports' setting: with Keras's default 0.99 the inference statistics need ~10x more steps
# to settle, and validation scores a short run with statistics of the untrained network.
BN_MOMENTUM = 0.9
BN_NUM_CLASSES = 8  # C3D-BN is trained from scratch on the user's classes; 8 is a placeholder
KERNEL_INITIALIZER = "glorot_uniform"


def C3D(
    weights=None,
    include_top=True,
    num_classes=None,
    input_shape=plan.INPUT_SHAPE,
    *,
    batch_norm=False,
    bn_momentum=BN_MOMENTUM,
    name=None,
    precision=None,
    new_head=False,
    need_classifier=False,
):
    """Build C3D as a channels-last Keras ``Sequential``.

    Args:
        weights: None (random init), a weights name (``"sports1m"``, ``"ucf101"``, …:
            ``c3d.model.presets``; the converted file in the cache, ``$C3D_HOME`` else
            ``~/.keras/models``, fetched on first use) or a path to a Keras 3
            ``.weights.h5`` / legacy Keras 2 ``.h5`` file with this model's layer names.
            Every layer but fc8 must be in the file.
        include_top: False ends the model at ``flatten`` (pool5 features, 8192 values).
        num_classes: size of fc8; None takes the weights file's (487 without one, or for a
            file without fc8; 8 for C3D-BN).
        input_shape: (frames, height, width, 3); fc6 is sized to match.
        batch_norm: C3D-BN: BatchNormalization after every convolution (which then has
            no bias) and no dropout, the variant the PyTorch ports train from scratch.
        bn_momentum: the BatchNorm statistics' momentum (Keras's convention).
        name: the model's name (default ``c3d`` / ``c3d_bn``).
        precision: ``fp32`` (as the original) or ``bf16`` (Keras' ``mixed_bfloat16``);
            None builds under Keras' global dtype policy (float32 unless set).
        new_head: a ``num_classes`` other than the file's fc8 gives a fresh fc8
            (fine-tuning); without it that is an error (``c3d.model.resolve.head_size``).
        need_classifier: refuse weights without fc8 (features only), for classification.
    """
    input_shape = check_arguments(weights, include_top, num_classes, input_shape)
    if precision is not None:
        check_precision(precision)
    if weights is not None:
        check_buildable(weights, batch_norm)
        weights = resolve_weights(weights)  # fetched on first use, or a one-line error
    from c3d.model.weights import (
        assign_weights,
        check_weight_shapes,
        classes_in,
        read_weight_file,
    )

    if weights is not None:  # the file's shapes against the plan, before any array is read
        check_weight_shapes(weights, input_shape)
    arrays = None if weights is None else read_weight_file(weights)
    in_file = None if arrays is None else classes_in(arrays)
    if arrays is not None and need_classifier:
        check_classifier(weights, in_file)
    if num_classes is None and arrays is None:
        num_classes = BN_NUM_CLASSES if batch_norm else plan.NUM_CLASSES
    elif include_top and arrays is not None:
        num_classes = head_size(weights, in_file, num_classes, new_head)
    # Layers about to be loaded skip the random draw: ~1 s for 80 M parameters on a CPU.
    # fc8 is drawn anyway: it stays as initialised when the file has none or another size.
    loaded = () if weights is None else plan.WEIGHTED_LAYERS[:-1]
    policy = keras.config.dtype_policy().name if precision is None else PRECISIONS[precision]
    with dtype_policy(policy):
        model = c3d_sequential(
            include_top,
            num_classes or plan.NUM_CLASSES,
            input_shape,
            batch_norm=batch_norm,
            bn_momentum=bn_momentum,
            name=name,
            zero_init=loaded,
        )
    if arrays is not None:
        assign_weights(model, arrays, source=weights, optional=(plan.CLASSIFIER,))
    return model


def C3D_model(
    weights=None,
    include_top=True,
    num_classes=None,
    input_shape=plan.INPUT_SHAPE,
    *,
    precision=None,
    new_head=False,
):
    """The Sports-1M C3D (Tran et al., ICCV 2015): ``C3D`` with dropout, no BatchNorm."""
    return C3D(
        weights, include_top, num_classes, input_shape, precision=precision, new_head=new_head
    )


def C3D_BN(
    weights=None,
    include_top=True,
    num_classes=None,
    input_shape=plan.INPUT_SHAPE,
    *,
    bn_momentum=BN_MOMENTUM,
    precision=None,
    new_head=False,
):
    """C3D-BN: Conv3D -> BatchNorm -> ReLU per convolution; fc6, fc7 ReLU; fc8 softmax."""
    return C3D(
        weights,
        include_top,
        num_classes,
        input_shape,
        batch_norm=True,
        bn_momentum=bn_momentum,
        precision=precision,
        new_head=new_head,
    )


def check_arguments(weights, include_top, num_classes, input_shape):
    """Refuse bad builder arguments before anything is built; returns the input shape."""
    if weights is not None and not isinstance(weights, str) and not hasattr(weights, "__fspath__"):
        raise ValueError(
            "weights must be None, a weights name or a path to a weights file. "
            f"Received: weights={weights!r} (the builders take weights, include_top, "
            "num_classes, input_shape in this order)"
        )
    if not isinstance(include_top, bool):
        raise ValueError(
            f"include_top must be True or False. Received: include_top={include_top!r}"
        )
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(
            "num_classes must be a positive integer or None (the file's). "
            f"Received: num_classes={num_classes!r}"
        )
    return plan.check_input_shape(input_shape)


def c3d_sequential(
    include_top=True,
    num_classes=plan.NUM_CLASSES,
    input_shape=plan.INPUT_SHAPE,
    *,
    batch_norm=False,
    bn_momentum=BN_MOMENTUM,
    name=None,
    zero_init=(),
):
    """The C3D architecture with fresh weights, laid out from ``c3d.model.plan``.

    Layers named in ``zero_init`` get zero kernels instead of a random draw, for callers
    about to set them (weight loading, the converter); their config still names the usual
    initialiser, so ``clone_model`` or a saved ``.keras`` rebuilds a trainable model.
    ``num_classes=None`` leaves fc8 out (the top ends at fc7): the model of a file
    converted from a headless source, which has no classifier to write.
    """
    layers = keras.layers
    input_shape = plan.check_input_shape(input_shape)
    model = keras.Sequential(name=name or ("c3d_bn" if batch_norm else "c3d"))
    model.add(keras.Input(shape=input_shape, name="clip"))

    def kernel_init(layer_name):
        return "zeros" if layer_name in zero_init else KERNEL_INITIALIZER

    for conv in plan.CONVS:
        if batch_norm:
            # No conv bias: the BatchNormalization that follows has its own offset (beta).
            model.add(
                layers.Conv3D(
                    conv.filters,
                    plan.KERNEL,
                    padding="same",
                    use_bias=False,
                    name=conv.name,
                    kernel_initializer=kernel_init(conv.name),
                )
            )
            model.add(layers.BatchNormalization(momentum=bn_momentum, name=f"{conv.name}_bn"))
            model.add(layers.Activation("relu", name=f"{conv.name}_relu"))
        else:
            model.add(
                layers.Conv3D(
                    conv.filters,
                    plan.KERNEL,
                    padding="same",
                    activation="relu",
                    name=conv.name,
                    kernel_initializer=kernel_init(conv.name),
                )
            )
        if conv.pool:
            model.add(layers.MaxPooling3D(conv.pool_size, strides=conv.pool_size, name=conv.pool))
    padding = plan.pool5_padding(plan.conv5_shape(input_shape))
    model.add(layers.ZeroPadding3D(padding, name="zeropad5"))
    model.add(layers.MaxPooling3D(plan.POOL5, strides=plan.POOL5, name="pool5"))
    model.add(layers.Flatten(name=plan.FLATTEN))
    if include_top:
        for dense in plan.DENSES:
            last = dense.units is None
            if last and num_classes is None:
                break
            model.add(
                layers.Dense(
                    num_classes if last else dense.units,
                    activation="softmax" if last else "relu",
                    name=dense.name,
                    kernel_initializer=kernel_init(dense.name),
                )
            )
            if dense.dropout and not batch_norm:
                model.add(layers.Dropout(plan.DROPOUT_RATE, name=dense.dropout))
    for layer in model.layers:
        if hasattr(layer, "kernel_initializer"):
            layer.kernel_initializer = keras.initializers.get(KERNEL_INITIALIZER)
    # Keras 3 defines a Sequential's `.input`/`.output` only once it has been called
    # ("The layer c3d has never been called and thus has no defined input"). Scripts of
    # the earlier Keras 2 ports build feature extractors with
    # `keras.Model(model.input, model.get_layer("fc6").output)`: one symbolic call on the
    # model's own input (~1 ms, no computation) makes that work again.
    model(model.inputs[0])
    return model


def create_features_extractor(model, layer="fc6"):
    """A ``keras.Model`` from the clip input to ``layer``'s output (fc6/fc7 are post-ReLU)."""
    names = [each.name for each in model.layers]
    if layer not in names:
        raise ValueError(f"model has no layer {layer!r}; layers are: {', '.join(names)}")
    # inputs[0], not inputs: a single-tensor input, so callers may pass a bare array.
    return keras.Model(model.inputs[0], model.get_layer(layer).output, name=f"c3d_{layer}")


# The spelling used by earlier Keras ports of C3D, kept so their scripts keep working.
create_features_exctractor = create_features_extractor


def feature_model(model, layer=None):
    """A model whose output is ``layer``'s, from a full C3D or a ready feature extractor.

    ``layer`` is a ``--layer`` name (``plan.FEATURE_LAYERS``). With None, a model that
    already ends at a feature layer (an extractor), or has no fc6 (a custom one), is taken
    as it is; a full C3D is cut at fc6. A named ``layer`` is always what comes out (an fc7
    extractor is cut back to fc6). Extractors are made once per model.
    """
    names = [each.name for each in model.layers]
    if layer is None:
        if names[-1] in plan.FEATURE_LAYERS.values() or plan.FIRST_DENSE not in names:
            return model
        layer = plan.FIRST_DENSE
    name = plan.FEATURE_LAYERS[plan.check_layer(layer)]
    if names[-1] == name:
        return model
    if name not in names:
        raise C3DError(f"the model has no layer {name!r} to take {layer} features from")
    from c3d.model.inference import model_cache

    cache = model_cache(model)
    if ("extractor", name) not in cache:
        cache["extractor", name] = create_features_extractor(model, name)
    return cache["extractor", name]
