"""Call ingress: RTP/UDP and Asterisk AudioSocket/TCP (SPEC §2.3).

Sans-IO: `rtp` (RFC 3550 packets), `telephone_event` (RFC 4733), `rtp_receiver`,
`rtp_playback`, `audiosocket` (framing). Trio: `pacing`, `rtp_call`, `audiosocket_call`,
`hub` (`IngressHub`, re-exported by `mediacore.engine`). See README.md.
"""
