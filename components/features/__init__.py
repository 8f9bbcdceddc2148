"""Feature set components: which rows of a data set's stored arrays a model sees."""
