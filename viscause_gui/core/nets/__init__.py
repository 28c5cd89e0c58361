"""Torch nets and their training routines (plain, robust, early stopping)."""
