"""distlab.soak: every protocol of the library and every lab solution, under random faults."""
