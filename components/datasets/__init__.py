"""Data set components: label files in, a `sweep.dataset_api.DataSource` out."""
