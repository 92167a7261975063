"""One module per sensor family: pure decode, GATT recipe and virtual twin."""
