"""Recording readers and writers: the calfload CSV format and Moticon OpenGo text exports."""
