"""The sans-I/O cryptographic core.

Pure functions over bytes: Merkle proofs, signed-note checkpoints, signed entry
timestamps, SCTs, X.509 chains, RFC 3161 tokens, DSSE, canonical JSON and key
handling. Nothing here performs I/O, reads the clock, or imports httpx or
anyio; time-dependent checks take the time as an argument.
"""
