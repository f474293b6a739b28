"""Analysis of codes: projection, clustering, sequences, DTW, discovery, and the peers they are measured against. Never draws."""
