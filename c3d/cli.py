"""The ``c3d`` command line: ``c3d SUBCOMMAND …`` (see ``c3d --help``)."""

import argparse
import atexit
import importlib
import logging
import os
import signal
import sys

import c3d  # noqa: F401  (sets TensorFlow's runtime defaults before anything imports TF)
from c3d import runtime
from c3d.errors import C3DError

# sub-command -> (module with add_arguments/run, one-line help)
COMMANDS = {
    "extract": ("c3d.commands.extract", "extract C3D features (fc6/fc7/pool5) from videos"),
    "classify": ("c3d.commands.classify", "classify videos (Sports-1M or UCF101 classes)"),
    "pca": ("c3d.commands.pca", "fit a PCA file (ActivityNet's layout) to extracted features"),
    "pack": ("c3d.commands.pack", "write one self-contained HDF5 file from a features index"),
    "convert": (
        "converter.commands",
        "convert C3D weights (Caffe, PyTorch, Keras 1/2) to Keras 3 weights",
    ),
    "convert-mean": ("converter.commands", "convert a Caffe mean .binaryproto to .npy"),
    "weights": ("c3d.commands.weights", "list the weights known by name, cached or not"),
    "fetch-weights": ("converter.commands", "download and convert weights by name"),
    "train": ("c3d.commands.train", "train C3D-BN or fine-tune C3D on labelled videos"),
    "evaluate": ("c3d.commands.evaluate", "clip and video accuracy of trained weights"),
    "summary": ("c3d.commands.summary", "print the model's layer table"),
}


class _IntermixedParser(argparse.ArgumentParser):
    """A sub-command parser that takes options between positionals (``a.avi --top 3 b.avi``).

    Plain argparse stops a ``nargs="+"`` positional at the first option, so the second
    video would be an error. ``parse_known_intermixed_args`` parses options first, then
    the positionals; it calls ``parse_known_args`` itself, hence the re-entry guard.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser():
    parser = argparse.ArgumentParser(
        prog="c3d",
        description="C3D (Tran et al., ICCV 2015) for Keras 3: features, classes, training.",
    )
    parser.add_argument("--version", action="version", version=f"c3d {c3d.__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, and TensorFlow's start-up messages (also C3D_VERBOSE=1)",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_IntermixedParser
    )
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments = module.add_arguments
        if module_name == "converter.commands":
            add_arguments(name, command_parser)
        else:
            add_arguments(command_parser)
        command_parser.set_defaults(run=module.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a plain ``kill``), handled like Ctrl-C so outputs are cleaned up the same way."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.verbose:
        runtime.quiet_tensorflow_startup()
    signal.signal(signal.SIGTERM, _raise_terminated)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="c3d: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.run(args) or 0)
    except C3DError as exc:
        print(f"c3d {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"c3d {args.command}: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:  # e.g. `c3d classify … | head`
        return 141
    except OSError as exc:  # a file the command could not read or write: one line too
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"c3d {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


# The frameworks Keras runs on. Once one is loaded, tearing the interpreter down takes
# ~1 s after every command (measured: TensorFlow 1.1 s against 0.2 s; JAX 0.8 s, torch
# 1.6 s against 0.1 s).
FRAMEWORKS = ("tensorflow", "jax", "torch")


def run_and_exit(argv=None):
    """The ``c3d`` program: ``main``, then an exit without Python's teardown.

    When a framework was loaded (``FRAMEWORKS``), every output is written and closed by
    the time ``main`` returns, and the teardown would only cost time. So exit handlers
    run, the streams are flushed, and the process ends there. Which framework is
    loaded is looked up in ``sys.modules``: nothing is imported to find out.
    """
    code = main(argv)
    if not any(name in sys.modules for name in FRAMEWORKS):
        return code
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(run_and_exit())
