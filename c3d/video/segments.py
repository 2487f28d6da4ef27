"""One long video decoded by several decoders at once: its parts, and the proof they fit.

A decoder takes whole videos, so one long video would keep one decoder busy while
the others wait. Such a video is cut into parts at clip starts, each decoded by its
own decoder from a seek (``plan_parts``). OpenCV seeks by ``CAP_PROP_POS_FRAMES``,
which is inexact for some codecs and containers (it computes frames from
timestamps), so a part's first frame must be proven, not trusted:

- every part after the first seeks ``VERIFY_FRAMES`` frames before its first clip and
  decodes them (its *head*); the part before it decodes the same frames at its end
  (its *tail*), from a position proven in the same way, back to frame 0;
- the two must hold the same pixels (a digest per decoded frame), and the frames must
  differ enough among themselves to rule out an offset (``proven``): a still scene
  would match whatever frame the seek landed on;
- the first part whose start is not proven (digests differ, too alike, the seek or
  its decoding failed) is dropped with every part after it, and their clips are
  decoded again from frame 0 in one piece (``Part.rest``). So the outputs are those of
  one decoder, bit for bit, whatever the seeks did (tests/test_segments.py).

A video ends where the first part that stopped before its planned end stopped, as it
would for one decoder; a decoding error counts only where one decoder would meet it
(in the first part, or when decoding again from frame 0).
"""

import dataclasses
import hashlib

import numpy as np

from c3d.video.clips import frame_in_a_clip

# Frames decoded by both neighbours at each cut, one clip's worth (C3D's 16).
VERIFY_FRAMES = 16
# A part is worth its seek and its VERIFY_FRAMES extra frames only when it is long: a
# seek decodes from the keyframe before its target (up to a GOP, often 12-250 frames).
# Videos are cut only for decoders that would otherwise wait, so the extra frames cost
# idle cores: at 1024, one 900-frame 720p video (30 s) kept one of 2 decoders idle
# (issue 23); cut in two at 256 it ran 1.2-1.4x faster (OpenCV alone on 2 threads, two
# videos: 1.4-1.65x on that shared 2-core machine; the seek cost 28 ms, ~25 frames).
MIN_PART_FRAMES = 256


@dataclasses.dataclass(frozen=True)
class Part:
    """Clips starting in ``[first_clip, end_clip)`` of a video, decoded from ``first_frame``.

    ``end_frame``: decoding stops there (None: at the end of the video). ``head`` and
    ``tail`` are the frame ranges whose digests prove the cuts before and after it.
    """

    number: int
    first_clip: int
    end_clip: int | None
    first_frame: int
    end_frame: int | None
    tail: range = range(0)

    @property
    def head(self):
        return range(self.first_frame, self.first_clip)

    @classmethod
    def whole(cls):
        """A whole video, as one decoder decodes it."""
        return cls(0, 0, None, 0, None)

    @classmethod
    def rest(cls, number, first_clip):
        """The clips from ``first_clip`` on, decoded from frame 0 (no seek to prove)."""
        return cls(number, first_clip, None, 0, None)

    def wants(self, start):
        return start >= self.first_clip and (self.end_clip is None or start < self.end_clip)

    def keeps(self, index, stride, length):
        """Whether frame ``index`` must be converted to pixels (not only decoded)."""
        if index in self.head or index in self.tail:
            return True
        return index >= self.first_clip and frame_in_a_clip(index, stride, length)


def plan_parts(frames, decoders, stride, length):
    """Parts of a video of about ``frames`` frames for ``decoders`` decoders.

    ``frames`` is the container's declared count: only a guide for where to cut (the
    last part runs to the real end). Cuts are at clip starts (multiples of ``stride``),
    parts at least ``MIN_PART_FRAMES`` long; a single part means: not worth cutting.
    """
    count = min(int(decoders), int(frames) // MIN_PART_FRAMES)
    cuts = [0]
    for k in range(1, max(count, 1)):
        cut = round(frames * k / count / stride) * stride
        if cut - cuts[-1] >= max(VERIFY_FRAMES, stride):
            cuts.append(cut)
    if len(cuts) < 2:
        return [Part.whole()]
    parts = []
    for number, first_clip in enumerate(cuts):
        last = number == len(cuts) - 1
        next_cut = None if last else cuts[number + 1]
        parts.append(
            Part(
                number=number,
                first_clip=first_clip,
                end_clip=next_cut,
                first_frame=max(0, first_clip - VERIFY_FRAMES) if number else 0,
                # through the last clip before the next cut, and that cut's head
                end_frame=None if last else max(next_cut - stride + length, next_cut),
                tail=range(0) if last else range(next_cut - VERIFY_FRAMES, next_cut),
            )
        )
    return parts


def digest(frame):
    """A digest of one decoded frame's pixels (and shape: a frame of other size differs)."""
    pixels = np.ascontiguousarray(frame)
    return hashlib.blake2b(pixels, digest_size=16, person=repr(pixels.shape)[:16].encode()).digest()


@dataclasses.dataclass
class PartDecoded:
    """What decoding one part gave: its clip count, digests, and where it stopped."""

    part: Part
    n_clips: int = 0
    next_frame: int = 0  # index of the frame after the last one decoded
    head: list = dataclasses.field(default_factory=list)
    tail: list = dataclasses.field(default_factory=list)
    error: str | None = None  # why decoding raised (one line, PATH: reason)
    padded: bool = False  # a video shorter than one clip: its one clip was padded

    def record(self, index, frame):
        """Keep the digest of frame ``index`` if it is in the head or tail."""
        if index in self.part.head:
            self.head.append(digest(frame))
        elif index in self.part.tail:
            self.tail.append(digest(frame))

    @property
    def reached_end(self):
        """Decoded through its planned end (a part that stopped short ended the video)."""
        end = self.part.end_frame
        return self.error is None and end is not None and self.next_frame >= end


def proven(tail, head):
    """Whether a part's head is the frames of its predecessor's tail, beyond doubt.

    Equal digests prove the seek landed right only if no shift of the frames would
    match as well: frames that repeat with a period shorter than the window (a still
    scene has period 1) are refused, and their part decoded again from frame 0.
    """
    if len(head) != VERIFY_FRAMES or head != tail:
        return False
    for shift in range(1, len(tail)):
        if tail[shift:] == tail[:-shift]:
            return False
    return True


@dataclasses.dataclass
class Verdict:
    """Which parts to keep, and where decoding must start again (None: nowhere)."""

    kept: list  # PartDecoded, in order
    redo_from: int | None  # first clip start to decode again from frame 0
    error: str | None = None  # the video fails, as one decoder would have failed

    @property
    def n_clips(self):
        return sum(each.n_clips for each in self.kept)

    @property
    def n_frames(self):
        return self.kept[-1].next_frame


def judge(decoded):
    """The Verdict on a video's decoded parts (``PartDecoded``, in order)."""
    first = decoded[0]
    if first.error is not None:  # the first part decodes as one decoder does, from frame 0
        return Verdict([first], None, first.error)
    kept = [first]
    for before, part in zip(decoded, decoded[1:], strict=False):
        if not before.reached_end:  # the video ended inside ``before``
            break
        if part.error is not None or not proven(before.tail, part.head):
            return Verdict(kept, part.part.first_clip)
        kept.append(part)
    return Verdict(kept, None)
