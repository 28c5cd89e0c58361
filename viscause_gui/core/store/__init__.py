"""Persistence: the answer journal, votes, sessions (model, reader, writer, recovery), exports, the run
folder of `viscause run`, figures, atomic writes."""
