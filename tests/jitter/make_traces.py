"""Write the scenario traces under tests/data/jitter/ (seeded: the output is the same on every
run). The expectations written into each file are the scenario's acceptance tolerances,
derived from what the network does (loss rate, jitter span), not from a recorded run.

    python -m tests.jitter.make_traces
"""

from __future__ import annotations

import numpy as np

from tests.jitter.trace import DATA

BASE_MS = 40.0      # network transit without jitter
SECONDS = 10


def write(name: str, about: str, config: str, lines: list[str], expects: list[str],
          duration_ms: float) -> None:
    text = [f"# {line}" for line in about.strip().splitlines()]
    text.append("# (the receiver calls get() for 0.5 s after the last packet: expect the end "
                "of the stream\n# to count one underrun and up to 3 concealed frames)")
    text.append(f"config {config}")
    text += lines
    text.append(f"get 0 {duration_ms:g}")
    text += [f"expect {e}" for e in expects]
    (DATA / f"{name}.trace").write_text("\n".join(text) + "\n")


def stream(delays, lost=None, start_ms=0.0, ptime_ms=20.0) -> list[str]:
    out = []
    for i, d in enumerate(delays):
        if lost is not None and lost[i]:
            out.append("lose")
        else:
            out.append(f"send {start_ms + i * ptime_ms + d:.1f}")
    return out


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    n = SECONDS * 50
    cfg = "clock_rate=8000 frame_samples=160 codec=l16 mode=adaptive"
    end = SECONDS * 1000 + 500

    write("clean", "Clean network: constant 40 ms transit, nothing lost or reordered.\n"
          "The delay settles from the initial 60 ms towards min_delay_ms (20).", cfg,
          stream(np.full(n, BASE_MS + 5)),
          ["frames_late == 0", "frames_concealed <= 3", "lost_pct <= 1", "resets == 0",
           "underruns == 1", "mean_delay_ms <= 40", "current_delay_ms <= 40"], end)

    for jitter in (20, 50, 100):
        delays = BASE_MS + rng.uniform(0, jitter, n)
        write(f"jitter{jitter}", f"Uniform jitter 0..{jitter} ms on a 40 ms transit.\n"
              "Only the first packets, before the buffer has seen the jitter span, may be "
              "late;\nthe delay stays near the span.", cfg, stream(delays),
              ["late_pct <= 2", "lost_pct <= 2", "resets == 0",
               f"mean_delay_ms <= {jitter + 30}", f"target_delay_ms <= {jitter + 20}"], end)

    for pct in (1, 5):
        lost = rng.random(n) < pct / 100
        lost[0] = False
        delays = BASE_MS + rng.uniform(0, 10, n)
        write(f"loss{pct}", f"{pct} % random loss, 0..10 ms jitter: every lost packet is one "
              "concealed frame,\nnothing else is lost.", cfg, stream(delays, lost),
              [f"lost_pct <= {pct + 1.5}", f"lost_pct >= {max(pct - 1.5, 0.2)}",
               "late_pct <= 0.5", f"mean_delay_ms <= 50"], end)

    delays = BASE_MS + rng.uniform(0, 5, n)
    swapped = rng.random(n) < 0.10
    delays[swapped] += 30  # arrives after the next packet or two
    write("reorder10", "10 % of packets overtaken by the next one (30 ms extra transit).\n"
          "Frames are indexed by timestamp, so order does not matter within the delay.",
          cfg, stream(delays), ["late_pct <= 1", "lost_pct <= 1", "frames_duplicate == 0",
                                "mean_delay_ms <= 60"], end)

    lines, dups = [], 0
    for i in range(n):
        arrival = i * 20 + BASE_MS + rng.uniform(0, 5)
        lines.append(f"send {arrival:.1f}")
        if rng.random() < 0.10:
            lines.append(f"dup {arrival + rng.uniform(0, 30):.1f}")
            dups += 1
        if rng.random() < 0.02:
            lines.append(f"dup {arrival + 1000:.1f}")  # long after it was played
            dups += 1
    write("duplicates", f"{dups} copies of packets: most within 30 ms, some 1 s later.\n"
          "Each is counted once and dropped; the audio is untouched.", cfg, lines,
          [f"frames_duplicate == {dups}", "lost_pct <= 1", "frames_late == 0"], end)

    write("wraparound", "Sequence numbers wrap at 65535 and timestamps at 2^32 mid-call, "
          "with 0..20 ms jitter.", f"{cfg} seq=65300 ts={2**32 - 200 * 160}",
          stream(BASE_MS + rng.uniform(0, 20, n)),
          ["resets == 0", "lost_pct <= 1.5", "frames_late <= 5", "frames_duplicate == 0"],
          end)

    lines = stream(BASE_MS + rng.uniform(0, 10, 250))
    stall_end = 250 * 20 + 3000 + BASE_MS
    for i in range(150):  # sent during the stall, delivered in one burst when it ends
        lines.append(f"send {stall_end + i * 0.2:.1f}")
    lines += stream(BASE_MS + rng.uniform(0, 10, 250), start_ms=400 * 20)
    write("stall", "5 s of audio, a 3 s network stall, then the stalled packets in one "
          "burst, then 5 s more.\nThe stalled packets are late (dropped and counted) but for "
          "the last few;\nthe stream goes on without a reset.", cfg, lines,
          ["resets == 0", "underruns >= 1", "frames_late >= 130", "frames_late <= 150",
           "current_delay_ms <= 80", "frames_normal >= 480"], 650 * 20 + 500)

    for name, delta in (("jump_forward", 8_000_000), ("jump_backward", -8_000_000)):
        lines = stream(BASE_MS + rng.uniform(0, 10, 250))
        lines.append(f"jump {delta}")
        lines += stream(BASE_MS + rng.uniform(0, 10, 250), start_ms=250 * 20)
        write(name, f"After 5 s the sender's timestamp jumps by {delta} samples ("
              f"{delta / 8000:g} s); sequence numbers go on.\nOne reset, then the new "
              "timeline plays.", cfg, lines,
              ["resets == 1", "lost_pct <= 3", "frames_late <= 2"], end)

    lines = stream(BASE_MS + rng.uniform(0, 10, 150))
    lines.append("dtx 2000")
    lines += stream(BASE_MS + rng.uniform(0, 10, 150), start_ms=150 * 20 + 2000)
    write("dtx", "3 s of speech, 2 s of DTX silence (no packets; the timestamp runs on), 3 s "
          "of speech.\nOne underrun, silence in between, no reset, nothing late.", cfg,
          lines, ["resets == 0", "underruns == 2", "frames_empty >= 90", "frames_late == 0",
                  "lost_pct <= 1",
                  # the buffer waits through the silence (delay up to max_delay_ms) and
                  # skips that silence when speech resumes: no audio discarded for it
                  "frames_discarded <= 3", "current_delay_ms <= 60"], 8500)

    lines = stream(BASE_MS + rng.uniform(0, 10, 250))
    lines += ["ssrc 2", "jump 123456 4321"]
    lines += stream(BASE_MS + rng.uniform(0, 10, 250), start_ms=250 * 20)
    write("ssrc_change", "The sender changes SSRC after 5 s, with new sequence numbers and "
          "timestamps.", f"{cfg} ssrc=1", lines,
          ["resets == 1", "lost_pct <= 3", "frames_late == 0"], end)

    for ptime in (10, 60):
        m = SECONDS * 1000 // ptime
        write(f"ptime{ptime}", f"{ptime} ms packets (split into or joined from 20 ms "
              "frames), 0..20 ms jitter.", f"{cfg} ptime_ms={ptime}",
              stream(BASE_MS + rng.uniform(0, 20, m), ptime_ms=ptime),
              ["late_pct <= 2", "lost_pct <= 2", "resets == 0", "mean_delay_ms <= 80"], end)

    write("mulaw_loss", "μ-law at 8 kHz, 5 % loss in bursts of 3: concealment through "
          "linear.", "clock_rate=8000 frame_samples=160 codec=mulaw mode=adaptive",
          stream(BASE_MS + rng.uniform(0, 10, n),
                 np.array([(i // 3) % 20 == 7 for i in range(n)])),
          ["lost_pct >= 4", "lost_pct <= 6.5", "late_pct <= 0.5"], end)

    delays = BASE_MS + rng.uniform(0, 100, n)
    delays[0] = BASE_MS  # the fixed buffer counts its delay from the first packet
    write("fixed60", "Fixed 60 ms buffer under 0..100 ms jitter: it never adapts, so the "
          "packets\nthat need more than 60 ms are late.",
          "clock_rate=8000 frame_samples=160 codec=l16 mode=fixed initial_delay_ms=60",
          stream(delays),
          ["late_pct >= 25", "late_pct <= 55", "frames_discarded == 0",
           "frames_inserted == 0"], end)


if __name__ == "__main__":
    main()
