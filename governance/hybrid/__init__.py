"""The hybrid meeting: tellers, QR check-in at the door, live quorum, paper ballots."""
