"""Feature set components: which rows of the stored (140, T) arrays a model sees."""
