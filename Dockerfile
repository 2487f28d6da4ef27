# GPU image: the official TensorFlow GPU base (pinned to 2.21), the project installed in a
# venv that sees the base image's TensorFlow, run as a non-root user. The base image has
# pip but not ensurepip (Ubuntu's python3-venv), so the venv is made without pip and the
# base image's pip installs into it. The weights cache ($C3D_HOME) is /app/models, where
# the host's models/ is mounted.
#   docker build -t c3d-keras .
#   docker run --rm --gpus all -v "$PWD/models:/app/models" c3d-keras            # make example
#   docker run --rm --gpus all -v "$PWD/models:/app/models" c3d-keras make convert-weights
FROM tensorflow/tensorflow:2.21.0-gpu

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    VENV=/opt/venv \
    USE_DOCKER=0 \
    C3D_HOME=/app/models

# make runs the project's targets; the base image's own Ubuntu release decides the versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

# uid 1000, numerically: Ubuntu 24.04 images already have a user of that uid (ubuntu),
# 22.04 ones do not; either way the files and the process belong to uid 1000.
RUN id -u 1000 >/dev/null 2>&1 || useradd --create-home --uid 1000 c3d
WORKDIR /app
COPY --chown=1000:1000 . .

# --system-site-packages: reuse the base image's CUDA-enabled TensorFlow 2.21 (it satisfies
# requirements.txt's pin, so pip installs only what is missing) and its pip: the venv's
# python runs the base image's pip module, which installs into the venv (its sys.prefix).
# --without-pip: venv then never calls ensurepip, which the base image lacks. The stamp
# tells the Makefile that set-up is done (its recipe works the same way here: the venv
# exists, and `/opt/venv/bin/python -m pip` is the base image's pip).
RUN python3 -m venv --system-site-packages --without-pip /opt/venv \
    && /opt/venv/bin/python -m pip install --no-cache-dir -r requirements.txt \
    && /opt/venv/bin/python -m pip install --no-cache-dir --no-deps . \
    && touch /opt/venv/.installed \
    && mkdir -p /app/models \
    && chown -R 1000:1000 /app /opt/venv

USER 1000:1000
ENV PATH=/opt/venv/bin:$PATH
VOLUME ["/app/models"]
CMD ["make", "example"]
